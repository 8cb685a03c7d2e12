// What a script reads: every --json is one line that jq can parse, with `ok` true exactly when claw exits 0.
import { describe, expect, it } from 'vitest';
import { runClaw, sandbox, type Result } from '../helpers/claw';
import { fleet } from '../helpers/fleet';

/** One JSON document on one line; its `ok` says what the exit code says. */
function document(result: Result): Record<string, unknown> {
  expect(result.stdout.endsWith('\n')).toBe(true);
  expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
  const doc = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(Object.keys(doc)[0]).toBe('ok');
  expect(doc.ok).toBe(result.code === 0);
  return doc;
}

describe('--json', () => {
  it('status, cache stats, unblock, config get and list, call --dry-run and a usage error: one line each, ok first', async () => {
    const box = sandbox();
    box.writeConfig({ gateways: { t: { limit: 2, window: '1m' } } });
    const runs: [string[], number][] = [
      [['status', '--json'], 0],
      [['cache', 'stats', '--json'], 0],
      [['unblock', 't', '--json'], 0],
      [['config', 'get', 'gateways.t.limit', '--json'], 0],
      [['config', 'list', '--json'], 0],
      [['call', '--gateway', 't', '--dry-run', '--json', '--', 'true'], 0],
      [['call', '--gateway', 't', '--priority', 'nope', '--json', '--', 'true'], 64],
      [['unblock', 'nope', '--json'], 64],
    ];
    for (const [args, code] of runs) {
      const result = await runClaw(args, box.env);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(code);
      document(result);
    }
    expect(document(await runClaw(['config', 'get', 'gateways.t.limit', '--json'], box.env))).toEqual({ ok: true, path: 'gateways.t.limit', value: 2 });
    expect((document(await runClaw(['config', 'list', '--json'], box.env)).config as any).gateways.t.limit).toBe(2);
    // Without --json, config get and list print for a person: a value as it is, an object indented.
    expect((await runClaw(['config', 'get', 'gateways.t.limit'], box.env)).stdout).toBe('2\n');
    expect(JSON.parse((await runClaw(['config', 'list'], box.env)).stdout).gateways.t.limit).toBe(2);
  });

  it('heartbeat --json has ok (false only when the dispatch failed, exit 75); poll --json and status --check --json follow their exit codes', async () => {
    const f = fleet({ agents: ['coo'] });
    const idle = await runClaw(['heartbeat', 'coo', '--no-splay', '--json'], f.env);
    expect(idle.code).toBe(0);
    expect(document(idle)).toMatchObject({ ok: true, agent: 'coo', outcome: 'idle' });
    expect(document(await runClaw(['poll', '--json'], f.env))).toMatchObject({ ok: true });

    const failing = { ...f.env, FAKE_AGENT_EXIT: '1' };
    f.writeTodo('coo', '- [ ] Work\n');
    const failed = await runClaw(['heartbeat', 'coo', '--no-splay', '--json'], failing);
    expect(failed.code).toBe(75);
    expect(document(failed)).toMatchObject({ ok: false, outcome: 'failed' });
    const check = await runClaw(['status', '--check', '--json'], f.env);
    expect(check.code).toBe(75);
    expect(document(check)).toMatchObject({ ok: false });
    expect(document(await runClaw(['status', '--json'], f.env))).toMatchObject({ ok: true });
  });

  it('status --prometheus keeps the metric names and types dashboards read', async () => {
    const f = fleet({ agents: ['coo'] });
    expect((await runClaw(['heartbeat', 'coo', '--no-splay'], f.env)).code).toBe(0);
    const text = (await runClaw(['status', '--prometheus'], f.env)).stdout;
    const types = text
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.slice(7));
    expect(types).toEqual([
      'agent_heartbeat_status gauge',
      'agent_task_stagnation_seconds gauge',
      'agent_workboard_pending gauge',
      'agent_429_error_rate gauge',
      'claw_agent_last_run_timestamp_seconds gauge',
      'claw_agent_paused_tasks gauge',
      'claw_agent_unsent_escalations gauge',
      'claw_gateway_limit gauge',
      'claw_gateway_window_seconds gauge',
      'claw_gateway_used gauge',
      'claw_gateway_waiters gauge',
      'claw_gateway_admitted_total counter',
      'claw_gateway_rate_limited_total counter',
      'claw_gateway_retries_total counter',
      'claw_gateway_dropped_total counter',
      'claw_gateway_fallbacks_total counter',
      'claw_proxy_tokens_total counter',
      'claw_cache_hits_total counter',
      'claw_cache_misses_total counter',
      'claw_cache_entries gauge',
    ]);
    expect(text).toMatch(/^agent_heartbeat_status\{agent_name="coo"\} 1$/m);
    expect(text).not.toMatch(/\u001b\[/);
  });

  it('doctor --json is one line with ok', async () => {
    const box = sandbox({ PATH: '/usr/bin:/bin' });
    document(await runClaw(['doctor', '--json'], box.env));
  });
});
