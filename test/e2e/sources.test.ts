// Hostile source data through the built bin: no input, source document, file-system state or cached
// value makes claw exit 70 (a bug in claw); bad records are skipped with a warning, good ones kept.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../helpers/sqlite-db.cjs';
import { describe, expect, it } from 'vitest';
import { runClaw, statusJson } from '../helpers/claw';
import { fleet, isDispatch, isIssueList, isWorkboardList, multicaIssue, type Fleet } from '../helpers/fleet';
import { agentFields, cardFields, goodCard, goodIssue, hostileDocLines, issueFields, mixed, prng } from '../helpers/hostile';

const heartbeat = (agent: string, ...extra: string[]) => ['heartbeat', agent, '--no-splay', '--json', ...extra];
const cooId = '00000000-0000-4000-8000-000000000000';
const secretaryId = '00000000-0000-4000-8000-000000000001';

async function beat(f: Fleet, agent: string, ...extra: string[]): Promise<any> {
  const r = await runClaw(heartbeat(agent, ...extra), f.env);
  expect(r.code, `${agent}: exit ${r.code}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
}

const messageOf = (argv: string[]) => argv[argv.indexOf('--message') + 1]!;

/** `count` issues of one assignee, all done but the one at `todoAt`: small records keep many fake pages quick, and hold every field claw reads. */
const smallIssues = (count: number, assignee: string, todoAt = -1) =>
  Array.from({ length: count }, (_, i) => ({
    id: `id-${i}`,
    identifier: `MUL-${i}`,
    title: `t${i}`,
    status: i === todoAt ? 'todo' : 'done',
    assignee_type: 'agent',
    assignee_id: assignee,
  }));

describe('hostile source data', () => {
  it('a NUL, escape sequence or BEL in a task title (docs and Multica) is cleaned: the run dispatches and is recorded', async () => {
    const f = fleet({ agents: ['coo'] });
    f.writeTodo('coo', '- [ ] Fix\u0000 the \u001b[31mbuild\u001b[0m\u0007 now\r\n');
    f.setIssues([multicaIssue({ id: 'i1', identifier: 'MUL-1', title: 'Pay\u0000 the\ninvoice\u001b]0;owned\u0007', assignee_id: cooId })]);
    const report = await beat(f, 'coo');
    expect(report.outcome).toBe('dispatched');
    expect(report.claimable.map((t: any) => t.title).sort()).toEqual(['Fix the build now', 'Pay the invoice']);
    const [dispatch] = f.calls(isDispatch);
    expect(messageOf(dispatch!.argv)).toContain('- [docs TODO.md#fix-the-build-now] Fix the build now (normal)');
    expect(messageOf(dispatch!.argv)).toContain('- [multica MUL-1] Pay the invoice (high)');
    expect(dispatch!.argv.join(' ')).not.toMatch(/[\u0000\u0007\u001b]/);
    const status = await statusJson(f.env);
    expect(status.agents[0].lastRun.outcome).toBe('dispatched');
    // The text output, on a terminal or in a cron mail, carries no escape sequence either.
    const text = await runClaw(['heartbeat', 'coo', '--no-splay', '--dry-run'], f.env);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toMatch(/[\u0000\u0007\u001b]/);
  });

  it('one malformed record (null, links: 5, links: [null], name: null, priority "constructor") is skipped with a warning; the fleet keeps working', async () => {
    const f = fleet({ agents: ['coo', 'secretary'] });
    f.setCards([
      null,
      goodCard('card-coo', 'coo', { priority: 'constructor' }),
      goodCard('links-number', 'coo', { metadata: { links: 5 } }),
      goodCard('links-null', 'secretary', { metadata: { links: [null] } }),
      goodCard('card-secretary', 'secretary', { priority: 'toString' }),
    ]);
    f.setIssues([null, goodIssue('MUL-7', cooId, { priority: 'toString' }), goodIssue('MUL-8', secretaryId, { priority: 'constructor' }), 5]);
    f.setAgents([
      { id: 'ffffffff-0000-4000-8000-000000000000', name: null, model: 'nobody' },
      { id: cooId, name: 'coo', model: 'coo', archived_at: null },
      { id: secretaryId, name: 'secretary', model: 'secretary', archived_at: null },
    ]);
    for (const [agent, ids] of [
      ['coo', ['card-coo', 'MUL-7']],
      ['secretary', ['card-secretary', 'MUL-8']],
    ] as const) {
      const report = await beat(f, agent);
      expect(report.outcome).toBe('dispatched');
      expect(report.claimable.map((t: any) => t.id).sort()).toEqual([...ids].sort());
      expect(report.claimable.every((t: any) => t.priority === 'normal')).toBe(true);
      expect(report.sources.map((s: any) => s.state)).toEqual(['ok', 'ok', 'ok']);
      expect(report.warnings).toEqual([
        'workboard cards: skipped 3 malformed record(s): card #0: is null, not an object; card #2 (links-number): metadata.links is number 5, not a list; card #3 (links-null): metadata.links[0] is null, not an object',
        'multica issues: skipped 2 malformed record(s): issue #0: is null, not an object; issue #3: is number 5, not an object',
        'multica agents: skipped 1 malformed record(s): agent #0 (ffffffff-0000-4000-8000-000000000000): name is null',
      ]);
    }
    // One fetch served both agents: the checked value is what sits in the shared cache.
    expect(f.calls(isWorkboardList)).toHaveLength(1);
    const poll = await runClaw(['poll'], f.env);
    expect(poll.code).toBe(0);
    expect(poll.stderr).toContain('claw: warning: workboard:cards:all-boards: skipped 3 malformed record(s): card #0: is null, not an object;');
  });

  it('a document wrong as a whole makes the source unavailable, then stale-if-error serves the last good value', async () => {
    const f = fleet({ agents: ['coo'] });
    const raw = join(f.root, 'raw.json');
    writeFileSync(raw, '{"cards": 5}');
    const cold = await beat(f, 'coo', '--dry-run');
    expect(cold.sources[0]).toMatchObject({ source: 'workboard', state: 'ok' });
    f.setCards([goodCard('kept', 'coo')]);
    expect((await runClaw(['poll'], f.env)).code).toBe(0);
    for (const doc of ['{"cards": 5}', '[null]', 'null', '{"__proto__": {"cards": []}}', '{"cards": {"0": {"id": "x"}}}']) {
      writeFileSync(raw, doc);
      const poll = await runClaw(['poll', '--json'], { ...f.env, FAKE_WORKBOARD_RAW: raw });
      expect(poll.code).toBe(0);
      expect(JSON.parse(poll.stdout).refreshed.find((r: any) => r.key === 'workboard:cards:all-boards')).toMatchObject({
        state: 'stale',
        detail: 'openclaw workboard list printed JSON without a "cards" list',
        items: 1,
      });
      // A heartbeat within the TTL still reads the last good value from the cache.
      const report = JSON.parse((await runClaw(heartbeat('coo', '--dry-run'), { ...f.env, FAKE_WORKBOARD_RAW: raw })).stdout);
      expect(report.claimable.map((t: any) => t.id)).toEqual(['kept']);
    }
    const unavailable = await runClaw(heartbeat('coo', '--dry-run'), { ...fleet({ agents: ['coo'] }).env, FAKE_WORKBOARD_RAW: raw });
    expect(unavailable.code).toBe(0);
    expect(JSON.parse(unavailable.stdout).sources[0]).toMatchObject({
      state: 'unavailable',
      detail: 'openclaw workboard list printed JSON without a "cards" list',
    });
  });

  it('a damaged value in the shared cache is a miss, not a crash', async () => {
    const f = fleet({ agents: ['coo'] });
    f.setCards([goodCard('c1', 'coo')]);
    expect((await beat(f, 'coo', '--dry-run')).claimable).toHaveLength(1);
    const db = new Database(join(f.stateDir, 'claw.db'));
    for (const value of ['not json{', '5', 'null', '"text"', '{"items": 5}', '{"items": {"length": 1}}']) {
      db.prepare(`update cache set value = ? where key = 'workboard:cards:all-boards'`).run(value);
      const report = await beat(f, 'coo', '--dry-run');
      expect(
        report.claimable.map((t: any) => t.id),
        value,
      ).toEqual(['c1']);
    }
    db.close();
  });

  it("pages past 100 pages of Multica issues: the agent's issue on page 101 is found", async () => {
    const f = fleet({ agents: ['coo'] });
    const issues = smallIssues(10_050, cooId);
    issues[10_040] = { ...issues[10_040]!, status: 'todo', title: 'The one on page 101' };
    f.setIssues(issues);
    const report = await beat(f, 'coo', '--dry-run');
    expect(f.calls(isIssueList)).toHaveLength(101);
    expect(report.sources[1]).toMatchObject({ source: 'multica', state: 'ok' });
    expect(report.claimable.map((t: any) => t.title)).toEqual(['The one on page 101']);
  });

  it('past the paging bound Multica is reported degraded ("truncated"), never "ok"; a server that never ends is stopped', async () => {
    const f = fleet({ agents: ['coo'], env: { CLAW_TEST_MULTICA_MAX_PAGES: '2' } });
    f.setIssues(smallIssues(250, cooId, 50));
    const report = await beat(f, 'coo', '--dry-run');
    expect(f.calls(isIssueList)).toHaveLength(2);
    expect(report.outcome).toBe('degraded');
    expect(report.sources[1]).toMatchObject({
      source: 'multica',
      state: 'degraded',
      detail: 'truncated after 200 issues (2 pages, the paging bound); more remain unread',
      tasks: 200,
    });
    expect(report.claimable.map((t: any) => t.id)).toEqual(['MUL-50']);
    const poll = await runClaw(['poll'], f.env);
    expect(poll.code).toBe(0);
    expect(poll.stderr).toContain('claw: multica:issues:c1d2e3f4-0000-4aaa-8bbb-123456789abc: degraded (200 item(s)): truncated after 200 issues');

    const endless = fleet({ agents: ['coo'] });
    const raw = join(endless.root, 'page.json');
    endless.env.FAKE_MULTICA_RAW = raw;
    writeFileSync(
      raw,
      JSON.stringify({
        has_more: true,
        issues: [{ id: 'same', identifier: 'MUL-1', title: 'again', status: 'todo', assignee_type: 'agent', assignee_id: cooId }],
        limit: 100,
        offset: 0,
        total: 1,
      }),
    );
    const again = await beat(endless, 'coo', '--dry-run');
    expect(endless.calls(isIssueList)).toHaveLength(2);
    expect(again.sources[1]).toMatchObject({
      state: 'degraded',
      detail: 'truncated after 2 issues: multica says more follow but sent the same issues again at offset 1',
    });
    expect(again.claimable.map((t: any) => t.id)).toEqual(['MUL-1']);
  }, 180_000);

  it('paging that outlasts one source timeout keeps its refresh lease: a second heartbeat waits instead of paging again', async () => {
    // sourceTimeout 4s: the refresh lease is 2 × 4 s + 5 s = 13 s; eleven pages at 1.5 s each take 16.5 s.
    // Each call has 2.5 s beyond the fake's delay for its own start, even on a loaded machine.
    const f = fleet({ agents: ['coo', 'secretary'], defaults: { sourceTimeout: '4s', workboard: undefined }, env: { FAKE_DELAY_MS: '1500' } });
    f.setIssues(smallIssues(1050, secretaryId, 1000));
    const first = runClaw(heartbeat('coo', '--dry-run'), f.env);
    await new Promise((r) => setTimeout(r, 1000));
    const [a, b] = await Promise.all([first, runClaw(heartbeat('secretary', '--dry-run'), f.env)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(JSON.parse(b.stdout).claimable.map((t: any) => t.id)).toEqual(['MUL-1000']);
    const pages = f.calls(isIssueList);
    expect(pages.map((c) => c.argv[c.argv.indexOf('--offset') + 1])).toEqual(['0', '100', '200', '300', '400', '500', '600', '700', '800', '900', '1000']);
    // The paging did outlast one lease: without renewal the second heartbeat would have paged again.
    expect(pages.at(-1)!.at - pages[0]!.at).toBeGreaterThan(13_000);
  }, 120_000);

  it('follows a symlinked TODO.md and tasks/; a link loop ends', async () => {
    const f = fleet({ agents: ['coo'], defaults: { workboard: undefined, multica: undefined } });
    const shared = join(f.root, 'shared');
    mkdirSync(join(shared, 'tasks', 'q3'), { recursive: true });
    writeFileSync(join(shared, 'TODO.md'), '- [ ] Linked TODO task\n');
    writeFileSync(join(shared, 'tasks', 'q3', 'plan.md'), '- [ ] Linked tasks dir task\n');
    symlinkSync(join(shared, 'TODO.md'), join(f.workspace('coo'), 'TODO.md'));
    symlinkSync(join(shared, 'tasks'), join(f.workspace('coo'), 'tasks'));
    symlinkSync('..', join(shared, 'tasks', 'q3', 'loop'));
    const report = await beat(f, 'coo');
    expect(report.outcome).toBe('dispatched');
    expect(report.sources[2]).toMatchObject({ source: 'docs', state: 'ok', tasks: 2 });
    expect(report.claimable.map((t: any) => t.title).sort()).toEqual(['Linked TODO task', 'Linked tasks dir task']);
  });

  it('tasks inside code fences and HTML comments are not dispatched', async () => {
    const f = fleet({ agents: ['coo'], defaults: { workboard: undefined, multica: undefined } });
    f.writeTodo('coo', '- [ ] Real task\n```md\n- [ ] Example in a fence\n```\n<!--\n- [ ] Commented out\n-->\n~~~\n- [ ] In a tilde fence\n~~~\n');
    const report = await beat(f, 'coo');
    expect(report.claimable.map((t: any) => t.title)).toEqual(['Real task']);
    const message = messageOf(f.calls(isDispatch)[0]!.argv);
    expect(message).toContain('Real task');
    expect(message).not.toMatch(/Example in a fence|Commented out|In a tilde fence/);
  });

  it('fuzz: hostile records from every fake source, several seeds, through the built bin: exit 0, good records dispatched', async () => {
    for (const seed of [11, 22, 33, 44, 55]) {
      const rand = prng(seed);
      const f = fleet({ agents: ['coo'] });
      const issues = mixed(rand, 30, (i) => goodIssue(`good-${i}`, cooId, { status: 'done', status_category: 'done' }), issueFields);
      const cards = mixed(rand, 30, (i) => goodCard(`good-${i}`, 'coo', { status: 'done' }), cardFields);
      const agents = mixed(rand, 8, (i) => ({ id: `good-${i}`, name: `agent${i}`, model: null }), agentFields);
      // One claimable record per source so the run dispatches; the rest are done or hostile.
      f.setIssues([goodIssue('MUL-GOOD', cooId), ...issues.records]);
      f.setCards([goodCard('card-good', 'coo'), ...cards.records]);
      f.setAgents([{ id: cooId, name: 'coo', model: 'coo', archived_at: null }, ...agents.records]);
      f.writeTodo('coo', ['- [ ] Good doc task 🆔 gooddoc', ...hostileDocLines(rand, 40)].join('\n'));
      const report = await beat(f, 'coo');
      expect(report.outcome, `seed ${seed}`).toBe('dispatched');
      const claimable = report.claimable.map((t: any) => t.key);
      expect(claimable, `seed ${seed}`).toEqual(expect.arrayContaining(['workboard:card-good', 'multica:MUL-GOOD', 'docs:gooddoc']));
      for (const line of [...report.claimable, ...report.blocked]) expect(line.title).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      for (const arg of f.calls(isDispatch)[0]!.argv) expect(arg).not.toContain('\u0000');
      for (const args of [['poll'], ['status'], ['heartbeat', 'coo', '--no-splay', '--dry-run']]) {
        const r = await runClaw(args, f.env);
        expect(r.code, `seed ${seed}: claw ${args.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stdout + r.stderr).not.toMatch(/[\u0000\u0007\u001b]/);
      }
    }
  }, 300_000);
});
