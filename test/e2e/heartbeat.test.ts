// The heartbeat with real processes and fake `multica` / `openclaw` on PATH that log every call.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finished, runClaw, startClaw, statusJson, stores, waitFor } from '../helpers/claw';
import { running } from '../helpers/processes';
import { fleet, fleetAgents, isAgentList, isDispatch, isIssueList, isNotify, isWorkboardList, multicaIssue, workboardCard } from '../helpers/fleet';

const heartbeat = (agent: string, ...extra: string[]) => ['heartbeat', agent, '--no-splay', ...extra];
const tempDir = () => mkdtempSync(join(tmpdir(), 'claw-pid-'));

describe.each(stores)('claw heartbeat (%s store)', (store) => {
  it('an idle fleet: 15 heartbeats make zero dispatches and print nothing off a TTY', async () => {
    const f = fleet({ store });
    const agents = JSON.parse(JSON.stringify((await statusJson(f.env)).agents)).map((a: any) => a.agent);
    expect(agents).toHaveLength(15);
    const results = await Promise.all(agents.map((a: string) => runClaw(heartbeat(a), f.env)));
    for (const r of results) expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(f.calls(isDispatch)).toHaveLength(0);
    const status = await statusJson(f.env);
    expect(status.agents.map((a: any) => a.lastRun.outcome)).toEqual(Array(15).fill('idle'));
    expect(status.agents.every((a: any) => a.health === 'ok')).toBe(true);
    expect(status.gateways.find((g: any) => g.name === 'nvidia').counters.admitted).toBe(0);
  });

  it('15 heartbeats started at once on a cold cache make one issue list, one agent list and one workboard list in total', async () => {
    const f = fleet({ store, env: { FAKE_DELAY_MS: '1500' } });
    const results = await Promise.all(fleetAgents.map((a) => finished(startClaw(heartbeat(a, '--json'), f.env))));
    expect(results.map((r) => r.code)).toEqual(Array(15).fill(0));
    expect(results.map((r) => JSON.parse(r.stdout).outcome)).toEqual(Array(15).fill('idle'));
    expect(f.calls(isIssueList)).toHaveLength(1);
    expect(f.calls(isAgentList)).toHaveLength(1);
    expect(f.calls(isWorkboardList)).toHaveLength(1);
    // Multica's in-task variables never reach it.
    for (const call of f.calls((i) => i.tool === 'multica')) expect(Object.values(call.env!).every((v) => v === null)).toBe(true);
    const issueList = f.calls(isIssueList)[0]!.argv;
    expect(issueList).toEqual([
      '--workspace-id',
      'c1d2e3f4-0000-4aaa-8bbb-123456789abc',
      'issue',
      'list',
      '--limit',
      '100',
      '--offset',
      '0',
      '--output',
      'json',
    ]);
  });

  it('pages through multica issues until has_more is false, and groups them by assignee', async () => {
    const f = fleet({ store, agents: ['coo', 'secretary'] });
    const issues = Array.from({ length: 230 }, (_, i) =>
      multicaIssue({
        id: `id-${i}`,
        identifier: `MUL-${i}`,
        status: 'done',
        status_category: 'done',
        assignee_id: `00000000-0000-4000-8000-00000000000${i % 2}`,
      }),
    );
    issues[229] = multicaIssue({ id: 'id-229', identifier: 'MUL-229', title: 'Last page task', assignee_id: '00000000-0000-4000-8000-000000000001' });
    f.setIssues(issues);
    const r = await runClaw(heartbeat('secretary', '--dry-run', '--json'), f.env);
    const report = JSON.parse(r.stdout);
    expect(f.calls(isIssueList).map((c) => c.argv[c.argv.indexOf('--offset') + 1])).toEqual(['0', '100', '200']);
    expect(report.claimable.map((t: any) => t.id)).toEqual(['MUL-229']);
    expect(report.dispatch.argv.slice(0, 6)).toEqual(['openclaw', 'agent', '--agent', 'secretary', '--session-key', 'claw-heartbeat']);
  });

  it('a todo task with an unmet dependency is not dispatched; once the dependency is done, it is', async () => {
    const f = fleet({ store, agents: ['coo'] });
    f.writeTodo('coo', '- [/] Collect figures 🆔 figures\n- [ ] Write the review ⏫ ⛔ figures\n');
    const first = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
    expect(first.outcome).toBe('idle');
    expect(first.blocked.map((t: any) => [t.title, t.waitingOn])).toEqual([['Write the review', ['figures']]]);
    expect(f.calls(isDispatch)).toHaveLength(0);

    f.writeTodo('coo', '- [x] Collect figures 🆔 figures\n- [ ] Write the review ⏫ ⛔ figures\n');
    const second = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
    expect(second.outcome).toBe('dispatched');
    expect(second.dispatch.priority).toBe('high');
    const dispatches = f.calls(isDispatch);
    expect(dispatches).toHaveLength(1);
    const message = dispatches[0]!.argv[dispatches[0]!.argv.indexOf('--message') + 1]!;
    expect(message).toContain('Write the review');
    expect(message).not.toContain('Collect figures');
  });

  it("workboard cards blocked_by an unfinished card wait; archived cards and other agents' cards are ignored", async () => {
    const f = fleet({ store, agents: ['secretary'] });
    const card = (id: string, fields: Record<string, unknown>) => workboardCard(id, { agentId: 'secretary', ...fields });
    f.setCards([
      card('draft-faq', { metadata: { links: [{ id: 'l1', type: 'blocked_by', targetCardId: 'outline', createdAt: 1 }] } }),
      card('outline', { status: 'running', agentId: 'designer' }),
      card('old', { metadata: { archivedAt: 1787212800000 } }),
      card('someone-else', { agentId: 'coo' }),
    ]);
    const report = JSON.parse((await runClaw(heartbeat('secretary', '--dry-run', '--json'), f.env)).stdout);
    expect(report.claimable).toEqual([]);
    expect(report.blocked.map((t: any) => [t.id, t.waitingOn])).toEqual([['draft-faq', ['outline']]]);
  });

  it('a stall is suspected, then confirmed; then one recovery dispatch and one notification, not repeated', async () => {
    const notify = ['openclaw', 'message', 'send', '--channel', 'feishu', '--target', 'ops', '--message', '{message}', '--json'];
    const f = fleet({ store, agents: ['coo'], agentOverrides: { coo: { notify, stallAfter: '20m' } } });
    const stalledSince = new Date(Date.now() - 30 * 60_000).toISOString();
    f.setIssues([multicaIssue({ status: 'in_progress', status_category: 'in_progress', last_activity_at: stalledSince, title: 'Q3 cost report' })]);
    const run = async () => JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
    const first = await run();
    expect(first.stalled.map((s: any) => s.stall)).toEqual(['suspected']);
    expect(first.outcome).toBe('idle');
    expect(f.calls(isDispatch)).toHaveLength(0);

    const second = await run();
    expect(second.stalled.map((s: any) => s.stall)).toEqual(['confirmed']);
    expect(second.outcome).toBe('dispatched');
    expect(second.recover.map((t: any) => t.id)).toEqual(['MUL-123']);
    expect(f.calls(isDispatch)).toHaveLength(1);
    expect(f.calls(isNotify)).toHaveLength(1);
    expect(f.calls(isNotify)[0]!.argv.join(' ')).toContain('MUL-123');

    const third = await run();
    expect(third.outcome).toBe('idle');
    expect(f.calls(isDispatch)).toHaveLength(1);
    expect(f.calls(isNotify)).toHaveLength(1);
    const coo = (await statusJson(f.env)).agents[0];
    expect(coo.stalled).toBe(1);
    expect(coo.stagnationSeconds).toBeGreaterThanOrEqual(30 * 60 - 5);
  });

  it('after maxRounds dispatches the task is paused, with exactly one notification', async () => {
    const notify = ['openclaw', 'message', 'send', '--channel', 'feishu', '--target', 'ops', '--message', '{message}'];
    const f = fleet({ store, agents: ['coo'], agentOverrides: { coo: { notify, maxRounds: 3, warnAt: 0.6 } } });
    f.writeTodo('coo', '- [ ] A task nobody claims\n');
    const outcomes: string[] = [];
    const warnings: string[][] = [];
    for (let i = 0; i < 5; i++) {
      const report = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
      outcomes.push(report.outcome);
      warnings.push(report.warnings);
    }
    expect(outcomes).toEqual(['dispatched', 'dispatched', 'dispatched', 'idle', 'idle']);
    expect(f.calls(isDispatch)).toHaveLength(3);
    expect(f.calls(isNotify)).toHaveLength(1);
    expect(f.calls(isNotify)[0]!.argv.join(' ')).toContain('is paused');
    expect(warnings[1]).toEqual(['docs:TODO.md#a-task-nobody-claims has had 2 of 3 rounds']);
    const coo = (await statusJson(f.env)).agents[0];
    expect(coo.paused).toBe(1);
  });

  it('a source that exits 1 and one that prints garbage: degraded, the docs still count', async () => {
    const f = fleet({ store, agents: ['coo'], env: { FAKE_MULTICA_MODE: 'fail', FAKE_WORKBOARD_MODE: 'garbage' } });
    f.writeTodo('coo', '- [ ] Still do this\n');
    const r = await runClaw(heartbeat('coo', '--json'), f.env);
    const report = JSON.parse(r.stdout);
    expect(report.outcome).toBe('degraded');
    const byName = Object.fromEntries(report.sources.map((s: any) => [s.source, s]));
    expect(byName.multica).toMatchObject({ state: 'unavailable', detail: 'multica exited 1: Error: Too many requests' });
    expect(byName.workboard.state).toBe('unavailable');
    expect(byName.workboard.detail).toMatch(/not JSON/);
    expect(byName.docs).toMatchObject({ state: 'ok', tasks: 1 });
    expect(f.calls(isDispatch)).toHaveLength(1);
    // Off a TTY, a degraded run says so (cron mails it).
    const plain = await runClaw(heartbeat('coo'), { ...f.env });
    expect(plain.stdout).toMatch(/^coo: degraded/);
  });

  it('a source that never exits: the heartbeat finishes within its timeout and leaves no child running', async () => {
    const f = fleet({ store, agents: ['coo'], defaults: { sourceTimeout: '2s' }, env: { FAKE_MULTICA_MODE: 'hang' } });
    const began = Date.now();
    const r = await runClaw(heartbeat('coo', '--json'), f.env);
    expect(Date.now() - began).toBeLessThan(10_000);
    const report = JSON.parse(r.stdout);
    expect(report.outcome).toBe('degraded');
    expect(report.sources.find((s: any) => s.source === 'multica').detail).toBe('timed out after 2s (killed)');
    expect(report.sources.find((s: any) => s.source === 'workboard').state).toBe('ok');
    // The fake started a child of its own: the whole tree goes, not only the process claw started.
    const pids = f.calls((i) => i.tool === 'multica').map((i) => i.pid);
    const grandchildren = f.calls((i) => i.tool === 'multica-child').map((i) => i.pid);
    expect(pids.length).toBeGreaterThan(0);
    expect(grandchildren.length).toBe(pids.length);
    for (const pid of [...pids, ...grandchildren]) expect(running(pid), `pid ${pid}`).toBe(false);
  });

  it('stale-if-error: when a refresh fails, the last good value is used and marked stale', async () => {
    const f = fleet({ store, agents: ['coo'] });
    f.setIssues([multicaIssue({ title: 'From the last good fetch' })]);
    expect(JSON.parse((await runClaw(['poll', '--json'], f.env)).stdout).ok).toBe(true);
    const failing = { ...f.env, FAKE_MULTICA_MODE: 'fail' };
    const poll = JSON.parse((await runClaw(['poll', '--json'], failing)).stdout);
    expect(poll.refreshed.find((r: any) => r.key.startsWith('multica:issues')).state).toBe('stale');
    const report = JSON.parse((await runClaw(heartbeat('coo', '--dry-run', '--json'), failing)).stdout);
    expect(report.claimable.map((t: any) => t.title)).toEqual(['From the last good fetch']);
  });

  it('a heartbeat and a status that create the store at the same moment both succeed', async () => {
    for (let round = 0; round < 12; round++) {
      const f = fleet({ store, agents: ['coo'], agentOverrides: { coo: { dispatch: ['true'] } } });
      f.writeTodo('coo', '- [ ] Work\n');
      const results = await Promise.all([runClaw(heartbeat('coo'), f.env), runClaw(['status', '--json'], f.env)]);
      expect(results.map((r) => [r.code, r.stderr])).toEqual([
        [0, ''],
        [0, ''],
      ]);
    }
  });

  it('a second heartbeat of the same agent while the first runs is skipped', async () => {
    const f = fleet({ store, agents: ['coo'], agentOverrides: { coo: { dispatch: ['sh', '-c', 'sleep 4'] } } });
    f.writeTodo('coo', '- [ ] Slow work\n');
    const first = startClaw(heartbeat('coo'), f.env);
    await waitFor(async () => (await statusJson(f.env)).agents[0].health === 'running');
    const second = await runClaw(heartbeat('coo'), f.env);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(/^claw: heartbeat coo skipped: an earlier run \(.+:\d+\) is still running\n$/);
    expect((await finished(first)).code).toBe(0);
    const runs = (await statusJson(f.env)).agents[0];
    expect(runs.lastRun.outcome).toBe('dispatched');
  });

  it("a dead holder's lock, and its refresh lease on a source, are taken over at once", async () => {
    const pidFile = join(tempDir(), 'dispatch.pid');
    const f = fleet({ store, agents: ['coo'], agentOverrides: { coo: { dispatch: ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`] } } });
    f.writeTodo('coo', '- [ ] Work\n');
    const first = startClaw(heartbeat('coo'), f.env);
    await waitFor(() => existsSync(pidFile));
    await new Promise((r) => setTimeout(r, 300)); // the run records its dispatch right after starting it
    first.kill('SIGKILL');
    await finished(first);
    f.writeTodo('coo', '- [x] Work\n');
    // The lock is taken over; the dispatch the dead run left (its own process group) still runs, so nothing is dispatched beside it.
    const beside = JSON.parse((await runClaw(heartbeat('coo', '--json'), f.env)).stdout);
    expect(beside.outcome).toBe('skipped');
    expect(beside.error).toMatch(/^the dispatch of an earlier run \(pid \d+, started .* ago\) is still running/);
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const began = Date.now();
    const next = await runClaw(heartbeat('coo', '--json'), f.env);
    expect(JSON.parse(next.stdout).outcome).toBe('idle');
    // Not after the 60s lock lease or the 25s refresh lease: the holder's pid is gone.
    expect(Date.now() - began).toBeLessThan(10_000);
  });

  it('a failed dispatch is recorded as failed, exits 75 and shows as failing in status --check', async () => {
    const f = fleet({ store, agents: ['coo'], env: { FAKE_AGENT_EXIT: '1' } });
    f.writeTodo('coo', '- [ ] Work\n');
    const r = await runClaw(heartbeat('coo'), f.env);
    expect(r.code).toBe(75);
    expect(r.stdout).toMatch(/^coo: failed: dispatch failed: openclaw exited 1/);
    const check = await runClaw(['status', '--check'], f.env);
    expect(check.code).toBe(75);
    expect(check.stderr).toBe('claw: 1 agent(s) late or failing: coo (failing)\n');
  });

  it('validates the roster: bad cron, unknown key, bad duration, missing workspace name the file and field (exit 78)', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ schedule: '61 * * * *' }, /coo\.json: schedule: "61 \* \* \* \*" is not a valid cron expression/],
      [{ schedul: '*/10 * * * *' }, /coo\.json: schedul: unknown key/],
      [{ stallAfter: 'a while' }, /coo\.json: stallAfter: "a while" is not a duration/],
      [{ workspace: '/nonexistent/coo' }, /coo\.json: workspace: \/nonexistent\/coo does not exist/],
      // A file where a directory should be, as the workspace or on its way there (ENOTDIR): the same line, never exit 70.
      [{ workspace: '/proc/version' }, /coo\.json: workspace: \/proc\/version does not exist/],
      [{ workspace: '/proc/version/coo' }, /coo\.json: workspace: \/proc\/version\/coo does not exist/],
      [{ tz: 'Mars/Olympus' }, /coo\.json: tz: unknown time zone "Mars\/Olympus"/],
    ];
    for (const [override, message] of cases) {
      const f = fleet({ store, agents: ['coo'] });
      const file = join(f.heartbeatsDir, 'coo.json');
      writeFileSync(file, JSON.stringify({ id: 'coo', schedule: '*/10 * * * *', ...override }));
      const r = await runClaw(heartbeat('coo'), f.env);
      expect(r.code).toBe(78);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const f = fleet({ store, agents: ['coo'] });
    const unknown = await runClaw(heartbeat('ghost'), f.env);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/no agent "ghost"/);
  });
});

describe.each(stores)('claw poll, cache, cron (%s store)', (store) => {
  it('poll refreshes each source once for the fleet and prints per-agent counts; heartbeats then hit the cache', async () => {
    const f = fleet({ store, agents: ['coo', 'secretary', 'lawyer'] });
    f.setIssues([multicaIssue({})]);
    const poll = JSON.parse((await runClaw(['poll', '--json'], f.env)).stdout);
    expect(poll.agents.map((a: any) => [a.agent, a.claimable])).toEqual([
      ['coo', 1],
      ['lawyer', 0],
      ['secretary', 0],
    ]);
    expect(f.calls(isIssueList)).toHaveLength(1);
    expect(f.calls(isWorkboardList)).toHaveLength(1);
    for (const a of ['secretary', 'lawyer']) expect((await runClaw(heartbeat(a), f.env)).code).toBe(0);
    expect(f.calls(isIssueList)).toHaveLength(1);
    expect(f.calls(isWorkboardList)).toHaveLength(1);
    // A second poll ignores the TTL but keeps the agent list (1 h TTL).
    await runClaw(['poll'], f.env);
    expect(f.calls(isIssueList)).toHaveLength(2);
    expect(f.calls(isAgentList)).toHaveLength(1);
    const stats = JSON.parse((await runClaw(['cache', 'stats', '--json'], f.env)).stdout);
    expect(stats.categories.map((c: any) => [c.category, c.fresh])).toEqual([
      ['config', 1],
      ['multica', 1],
      ['workboard', 1],
    ]);
    expect(stats.hits).toBeGreaterThan(0);
    expect((await runClaw(['cache', 'clear', 'workboard'], f.env)).stdout).toBe('removed 1 entry in workboard\n');
    const after = JSON.parse((await runClaw(['cache', 'stats', '--json'], f.env)).stdout);
    expect(after.categories.map((c: any) => c.category)).toEqual(['config', 'multica']);
  });

  it('cron print shows CRON_TZ, one line per agent and the poll line; install is idempotent and keeps other lines', async () => {
    const f = fleet({ store, agents: ['coo', 'lawyer'] });
    const printed = (await runClaw(['cron', 'print', '--cron', 'honours-tz'], f.env)).stdout;
    expect(printed).toContain('CRON_TZ=Asia/Shanghai\n');
    expect(printed).toMatch(/^\*\/5 \* \* \* \* .*bin\/claw poll >> .*poll\.log 2>&1$/m);
    expect(printed).toMatch(/^\*\/10 \* \* \* \* .*bin\/claw heartbeat coo >> .*coo\.log 2>&1$/m);
    expect(printed).toMatch(/^\*\/15 \* \* \* \* .*bin\/claw heartbeat lawyer >> .*lawyer\.log 2>&1$/m);
    // A fake crontab that keeps its table in a file.
    const table = join(f.root, 'crontab.txt');
    writeFileSync(table, 'MAILTO=ops@example.com\n0 3 * * * /usr/local/bin/backup\n');
    const bin = join(f.root, 'bin');
    require('node:fs').mkdirSync(bin);
    writeFileSync(join(bin, 'crontab'), `#!/bin/sh\nif [ "$1" = "-l" ]; then cat "${table}"; else cat > "${table}"; fi\n`, { mode: 0o755 });
    const env = { ...f.env, PATH: `${bin}:${f.env.PATH}` };
    const dry = await runClaw(['cron', 'install', '--dry-run'], env);
    expect(dry.stdout).toMatch(
      /^\[dry run\] would install this crontab:\nMAILTO=ops@example.com\n0 3 \* \* \* \/usr\/local\/bin\/backup\n# >>> claw heartbeats/,
    );
    expect(readFileSync(table, 'utf8')).toBe('MAILTO=ops@example.com\n0 3 * * * /usr/local/bin/backup\n');
    expect((await runClaw(['cron', 'install'], env)).code).toBe(0);
    const once = readFileSync(table, 'utf8');
    expect(once.startsWith('MAILTO=ops@example.com\n0 3 * * * /usr/local/bin/backup\n')).toBe(true);
    expect((await runClaw(['cron', 'install'], env)).stdout).toBe('crontab already up to date\n');
    expect(readFileSync(table, 'utf8')).toBe(once);
    expect(once.match(/# >>> claw heartbeats/g)).toHaveLength(1);
  });

  it('status --prometheus uses the dashboard metric names', async () => {
    const f = fleet({ store, agents: ['coo'] });
    await runClaw(heartbeat('coo'), f.env);
    const text = (await runClaw(['status', '--prometheus'], f.env)).stdout;
    for (const name of [
      'agent_heartbeat_status',
      'agent_task_stagnation_seconds',
      'agent_workboard_pending',
      'agent_429_error_rate',
      'claw_gateway_limit',
      'claw_cache_hits_total',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    }
    expect(text).toMatch(/^agent_heartbeat_status\{agent_name="coo"\} 1$/m);
    expect(text).toMatch(/^claw_gateway_limit\{gateway="nvidia"\} 40$/m);
  });
});
