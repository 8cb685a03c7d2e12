// The heartbeat against a fake `openclaw` that prints what the real one prints (failures included):
// failure reasons, cache keys per query, archived dependencies, progress, escalation retries,
// timeouts, stale sources in poll, dispatches that never start, one dispatch per agent.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finished, runClaw, startClaw, statusJson, stores, waitFor } from '../helpers/claw';
import { fleet, isDispatch, isNotify, isWorkboardList, workboardCard as card } from '../helpers/fleet';

const heartbeat = (agent: string, ...extra: string[]) => ['heartbeat', agent, '--no-splay', ...extra];
const notifyFeishu = ['openclaw', 'message', 'send', '--channel', 'feishu', '--target', 'ops', '--message', '{message}'];
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe.each(stores)("openclaw's own words (%s store)", (store) => {
  // coo with one task nobody claims and one round for it: its first run escalates, through `notify`, to a
  // feishu channel that is unavailable.
  const escalating = (notify: string[]) => {
    const f = fleet({
      store,
      agents: ['coo'],
      defaults: { workboard: false },
      agentOverrides: { coo: { notify, maxRounds: 1 } },
      env: { FAKE_OPENCLAW_FAIL: 'channel-unavailable' },
    });
    f.writeTodo('coo', '- [ ] A task nobody claims\n');
    return f;
  };

  it("a failing source or dispatch reports openclaw's reason, never its last advice line", async () => {
    // The fake runs on the first `node` on PATH, as the real one does (its shebang is `#!/usr/bin/env node`).
    const pathNode = execFileSync('node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    const sourceCases: [string, (home: string) => string][] = [
      ['broken-db', () => 'openclaw exited 1: file is not a database'],
      [
        'invalid-config',
        (home) =>
          `openclaw exited 1: Invalid config at ${home}/.openclaw/openclaw.json: - <root>: JSON5 parse failed: SyntaxError: JSON5: invalid character 'i' at 1:21`,
      ],
      [
        'plugin-disabled',
        () =>
          'openclaw exited 1: The `openclaw workboard` command is unavailable because `plugins.entries.workboard.enabled=false`. Re-enable that entry if you want the bundled plugin command surface.',
      ],
      ['old-node', () => `openclaw exited 1: openclaw: Node ${pathNode}: node:sqlite is unavailable; use 24.16+/26.1+ or a build with the fix.`],
    ];
    for (const [mode, expected] of sourceCases) {
      const f = fleet({ store, agents: ['coo'], env: { FAKE_OPENCLAW_FAIL: mode } });
      const report = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
      expect(report.sources.find((s: any) => s.source === 'workboard')).toMatchObject({ state: 'unavailable', detail: expected(f.root) });
    }
    const dispatchCases: [string, string[], (home: string) => string][] = [
      ['unknown-agent', [], () => 'openclaw exited 1: Unknown agent id "coo". Use "openclaw agents list" to see configured agents.'],
      // Without --json the reason comes from the `[openclaw] Reason:` line(s) on stderr.
      [
        'unknown-agent',
        ['openclaw', 'agent', '--agent', '{agent}', '--message', '{message}'],
        () => 'openclaw exited 1: Unknown agent id "coo". Use "openclaw agents list" to see configured agents.',
      ],
      [
        'invalid-config',
        ['openclaw', 'agent', '--agent', '{agent}', '--message', '{message}'],
        (home) =>
          `openclaw exited 1: Invalid config at ${home}/.openclaw/openclaw.json: - <root>: JSON5 parse failed: SyntaxError: JSON5: invalid character 'i' at 1:21`,
      ],
      [
        'no-gateway-credentials',
        [],
        (home) =>
          `openclaw exited 1: gateway agent requires credentials before opening a websocket; Fix: configure gateway.auth token/password, pair this device, or pass --token/--password.; Config: ${home}/.openclaw/openclaw.json`,
      ],
    ];
    for (const [mode, dispatch, expected] of dispatchCases) {
      const f = fleet({
        store,
        agents: ['coo'],
        defaults: { workboard: false },
        env: { FAKE_OPENCLAW_FAIL: mode },
        ...(dispatch.length ? { agentOverrides: { coo: { dispatch } } } : {}),
      });
      f.writeTodo('coo', '- [ ] Work\n');
      const r = await runClaw(heartbeat('coo', '--json'), f.env);
      expect(r.code).toBe(75);
      const report = JSON.parse(r.stdout);
      expect(report.dispatch.error).toBe(expected(f.root));
      expect(report.error).toBe(`dispatch failed: ${expected(f.root)}`);
    }
    // The plain summary cron mails says the same.
    const f = fleet({ store, agents: ['coo'], defaults: { workboard: false }, env: { FAKE_OPENCLAW_FAIL: 'unknown-agent' } });
    f.writeTodo('coo', '- [ ] Work\n');
    expect((await runClaw(heartbeat('coo'), f.env)).stdout.split('\n')[0]).toBe(
      'coo: failed: dispatch failed: openclaw exited 1: Unknown agent id "coo". Use "openclaw agents list" to see configured agents.',
    );
  });

  it('all boards and the default board are two queries with two cache entries: no agent loses a card from another board', async () => {
    const f = fleet({ store, agents: ['coo', 'secretary'], agentOverrides: { secretary: { workboard: { board: 'default' } } } });
    f.setCards([card('ops-card', { metadata: { automation: { boardId: 'ops' } } }), card('default-card', { agentId: 'secretary' })]);
    const secretary = JSON.parse((await runClaw(heartbeat('secretary', '--dry-run', '--json'), f.env)).stdout);
    expect(secretary.claimable.map((t: any) => t.id)).toEqual(['default-card']);
    const coo = JSON.parse((await runClaw(heartbeat('coo', '--dry-run', '--json'), f.env)).stdout);
    expect(coo.claimable.map((t: any) => t.id)).toEqual(['ops-card']);
    expect(f.calls(isWorkboardList).map((c) => c.argv)).toEqual([
      ['workboard', 'list', '--board', 'default', '--json'],
      ['workboard', 'list', '--json'],
    ]);
  });

  it('a card blocked_by a card that was done and then archived is claimable', async () => {
    const f = fleet({ store, agents: ['coo'] });
    f.setCards([
      card('publish', { metadata: { links: [{ id: 'l1', type: 'blocked_by', targetCardId: 'draft', createdAt: 1 }] } }),
      card('draft', { status: 'done', metadata: { archivedAt: Date.now() } }),
      card('review', { metadata: { links: [{ id: 'l2', type: 'blocked_by', targetCardId: 'old-todo', createdAt: 1 }] } }),
      card('old-todo', { status: 'todo', metadata: { archivedAt: Date.now() } }),
    ]);
    const report = JSON.parse((await runClaw(heartbeat('coo', '--dry-run', '--json'), f.env)).stdout);
    expect(report.claimable.map((t: any) => t.id)).toEqual(['publish']);
    // An archived card that was never done still blocks, and is nobody's work.
    expect(report.blocked.map((t: any) => [t.id, t.waitingOn])).toEqual([['review', ['old-todo']]]);
  });

  it('a running card whose claim stopped heartbeating stalls even when the card itself was edited since', async () => {
    const f = fleet({ store, agents: ['coo'], defaults: { stallAfter: '20m' } });
    const stale = Date.now() - 30 * 60_000;
    f.setCards([
      card('claimed', {
        status: 'running',
        updatedAt: Date.now(),
        metadata: { claim: { ownerId: 'coo', token: '[redacted]', claimedAt: stale, lastHeartbeatAt: stale } },
      }),
      card('executing', { status: 'running', updatedAt: Date.now(), execution: { id: 'e1', status: 'running', updatedAt: stale } }),
      card('fresh', {
        status: 'running',
        updatedAt: stale,
        metadata: { claim: { ownerId: 'coo', token: '[redacted]', claimedAt: stale, lastHeartbeatAt: Date.now() } },
      }),
    ]);
    const report = JSON.parse((await runClaw(heartbeat('coo', '--dry-run', '--json'), f.env)).stdout);
    expect(report.stalled.map((s: any) => [s.id, s.stall])).toEqual([
      ['claimed', 'suspected'],
      ['executing', 'suspected'],
    ]);
  });

  it('a failed escalation is retried on later runs, up to 5 attempts, and shows in status until it is sent', async () => {
    const f = escalating([...notifyFeishu, '--json']);
    const run = async (env = f.env) => JSON.parse((await runClaw(heartbeat('coo', '--json'), env)).stdout);
    const first = await run();
    expect(first.notifications).toEqual([
      {
        condition: 'paused:docs:TODO.md#a-task-nobody-claims',
        sent: false,
        attempt: 1,
        error: 'openclaw exited 1: Channel is unavailable: feishu (attempt 1 of 5; tried again on the next run)',
      },
    ]);
    let coo = (await statusJson(f.env)).agents[0];
    expect(coo.unsent).toEqual([
      expect.objectContaining({
        condition: 'paused:docs:TODO.md#a-task-nobody-claims',
        attempts: 1,
        error: 'openclaw exited 1: Channel is unavailable: feishu',
      }),
    ]);
    expect((await runClaw(['status'], f.env)).stdout).toMatch(
      /^unsent escalation coo paused:docs:TODO\.md#a-task-nobody-claims: openclaw exited 1: Channel is unavailable: feishu \(1 attempt\(s\)\)$/m,
    );

    expect((await runClaw(['status', '--prometheus'], f.env)).stdout).toMatch(/^claw_agent_unsent_escalations\{agent_name="coo"\} 1$/m);

    const second = await run();
    expect(second.notifications.map((n: any) => [n.sent, n.attempt])).toEqual([[false, 2]]);
    expect(f.calls(isNotify)).toHaveLength(2);

    // The channel works again: the next run sends it, and it is sent once.
    const working = { ...f.env, FAKE_OPENCLAW_FAIL: '' };
    expect((await run(working)).notifications.map((n: any) => [n.sent, n.attempt])).toEqual([[true, 3]]);
    expect((await run(working)).notifications).toEqual([]);
    expect(f.calls(isNotify)).toHaveLength(3);
    coo = (await statusJson(f.env)).agents[0];
    expect(coo.unsent).toEqual([]);
    expect(f.calls(isDispatch)).toHaveLength(1);
  });

  it('a notify that keeps failing is tried 5 times in all, then given up and still shown', async () => {
    const f = escalating(notifyFeishu);
    const errors: string[] = [];
    for (let i = 0; i < 7; i++) {
      const report = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
      errors.push(...report.notifications.map((n: any) => n.error));
    }
    expect(f.calls(isNotify)).toHaveLength(5);
    // Without --json, the reason comes from the `[openclaw] Reason:` line.
    expect(errors.at(-1)).toBe('openclaw exited 1: Channel is unavailable: feishu (attempt 5 of 5; given up)');
    const coo = (await statusJson(f.env)).agents[0];
    expect(coo.unsent.map((u: any) => u.attempts)).toEqual([5]);
  });

  it("openclaw's --timeout ends the turn before claw's timeout kills it, and claw reports openclaw's reason", async () => {
    const f = fleet({ store, agents: ['coo'], defaults: { workboard: false, timeout: '5s' }, env: { FAKE_AGENT_SLEEP_MS: '60000' } });
    f.writeTodo('coo', '- [ ] Long work\n');
    const report = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
    const argv = f.calls(isDispatch)[0]!.argv;
    expect(argv.slice(argv.indexOf('--timeout'), argv.indexOf('--timeout') + 2)).toEqual(['--timeout', '4']);
    expect(report.outcome).toBe('failed');
    expect(report.dispatch.exitCode).toBe(1);
    expect(report.dispatch.error).toBe('openclaw exited 1: agent turn timed out after 4s');
  });

  it('poll says stale, with its age, for each agent whose source was served from the last good value', async () => {
    const f = fleet({ store, agents: ['coo', 'secretary'] });
    f.setCards([card('c1')]);
    expect(JSON.parse((await runClaw(['poll', '--json'], f.env)).stdout).agents.map((a: any) => a.sources.workboard)).toEqual(['ok', 'ok']);
    const broken = { ...f.env, FAKE_OPENCLAW_FAIL: 'broken-db' };
    const poll = JSON.parse((await runClaw(['poll', '--json'], broken)).stdout);
    expect(poll.refreshed.find((r: any) => r.key.startsWith('workboard:')).state).toBe('stale');
    for (const a of poll.agents) {
      expect(a.sources.workboard).toBe('stale');
      expect(a.details.workboard).toMatch(/^refresh failed \(openclaw exited 1: file is not a database\); using data \S+ old$/);
      expect(a.staleSeconds.workboard).toBeGreaterThanOrEqual(0);
    }
    expect(poll.agents.find((a: any) => a.agent === 'coo').claimable).toBe(1);
    const table = await runClaw(['poll'], broken);
    expect(table.stdout).toMatch(/^coo +1 +0 +0 +0 +workboard stale \d+(ms|s)$/m);
    expect(table.stderr).toContain('workboard:cards:all-boards: stale (1 item(s)): openclaw exited 1: file is not a database');
  });

  it('a dispatch that never started counts no round and fails with the reason', async () => {
    const f = fleet({
      store,
      agents: ['coo'],
      defaults: { workboard: false },
      agentOverrides: { coo: { dispatch: ['no-such-openclaw', 'agent', '--message', '{message}'], maxRounds: 2 } },
    });
    f.writeTodo('coo', '- [ ] Work\n');
    for (let i = 0; i < 3; i++) {
      const r = await runClaw(heartbeat('coo', '--json'), f.env);
      expect(r.code).toBe(75);
      const report = JSON.parse(r.stdout);
      expect(report.error).toBe('dispatch failed: not installed (no-such-openclaw not found on PATH)');
      expect(report.claimable.map((t: any) => t.rounds)).toEqual([0]);
      expect(report.warnings).toEqual([]);
    }
    expect((await statusJson(f.env)).agents[0].paused).toBe(0);
  });
});

describe.each(stores)('one dispatch per agent (%s store)', (store) => {
  it('a heartbeat killed with -9 mid-dispatch: no second dispatch beside the orphan, which is killed with its group at its timeout', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'claw-pids-')), 'pids');
    const f = fleet({
      store,
      agents: ['coo'],
      // No --timeout: the turn would run for 600 s; claw's timeout (6 s) is all that ends it.
      defaults: { workboard: false, timeout: '6s' },
      agentOverrides: { coo: { dispatch: ['openclaw', 'agent', '--agent', '{agent}', '--message', '{message}', '--json'] } },
      env: { FAKE_AGENT_SLEEP_MS: '600000', FAKE_AGENT_PIDFILE: pidFile },
    });
    f.writeTodo('coo', '- [ ] Work\n');
    // Every dispatch writes its pid, then its child's: [leader, child, leader, child, ...].
    const pids = () => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, pids().filter((pid, i) => i % 2 === 0 && alive(pid)).length);
    }, 50);
    try {
      const first = startClaw(heartbeat('coo'), f.env);
      await waitFor(() => pids().length === 2);
      await new Promise((r) => setTimeout(r, 300)); // the run records its dispatch right after starting it
      first.kill('SIGKILL');
      await finished(first);
      const [leader, child] = pids() as [number, number];
      expect(alive(leader) && alive(child)).toBe(true);

      const second = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
      expect(second.outcome).toBe('skipped');
      expect(second.error).toMatch(
        new RegExp(`^the dispatch of an earlier run \\(pid ${leader}, started \\S+ ago\\) is still running; it is killed at its timeout in \\S+$`),
      );
      expect(f.calls(isDispatch)).toHaveLength(1);
      // The killed run recorded nothing and the skipped one is no run of its own; the orphan shows as running.
      const status = (await statusJson(f.env)).agents[0];
      expect([status.lastRun, status.health]).toEqual([null, 'running']);

      // Past the orphan's deadline, the next run kills its whole group, then dispatches (and that one times out in its turn).
      await waitFor(() => Date.now() > f.calls(isDispatch)[0]!.at + 6500, 20_000);
      const third = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
      expect(third.warnings[0]).toMatch(
        new RegExp(`^killed the dispatch of an earlier run \\(pid ${leader}, .*: its heartbeat had died and its timeout had passed$`),
      );
      expect(alive(leader)).toBe(false);
      expect(alive(child)).toBe(false);
      expect(f.calls(isDispatch)).toHaveLength(2);
      expect(third.dispatch.error).toBe('timed out after 6s (killed)');
      expect(pids().every((pid) => !alive(pid))).toBe(true);
    } finally {
      clearInterval(sampler);
      for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    expect(most).toBe(1);
  }, 60_000);
});
