// Source data is data: hostile records are skipped or cleaned, never a crash (issue 11).
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDocs, parseTasks, readDocs } from '../../src/sources/docs';
import { cardStatuses, cardToTask, tasksForAgent as cardTasks } from '../../src/sources/workboard';
import { issueToTask, multicaAgentFor, pageIssues, tasksForAgent as issueTasks } from '../../src/sources/multica';
import { cleanText } from '../../src/sources/text';
import { cachedCards, cachedIssues, checkAgent, checkCard, checkIssue, checkRecords, skippedWarning } from '../../src/sources/validate';
import { dispatchPriority, emptyMemory, evaluate } from '../../src/heartbeat/evaluate';
import { dispatchMessage, fillTemplate } from '../../src/heartbeat/dispatch';
import { parsePriority } from '../../src/priority';
import type { Task } from '../../src/sources/types';
import type { AgentSpec } from '../../src/config/roster';
import { agentFields, cardFields, controlText, goodCard, goodIssue, hostileDocLines, issueFields, mixed, prng } from '../helpers/hostile';

// C0 and C1 controls, DEL, bidi overrides: nothing a terminal, argv or a log line should receive.
const unsafe = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const agentId = '00000000-0000-4000-8000-000000000000';

function expectCleanTask(task: Task): void {
  expect(typeof task.title).toBe('string');
  expect(task.title).not.toMatch(unsafe);
  expect(task.id).not.toMatch(unsafe);
  expect(task.title.length).toBeLessThanOrEqual(500);
  expect(['urgent', 'high', 'normal', 'low']).toContain(task.priority);
  expect(['todo', 'in_progress', 'blocked', 'done']).toContain(task.status);
  for (const dep of task.dependsOn) expect(typeof dep).toBe('string');
  expect(Number.isFinite(task.updatedAt)).toBe(true);
}

describe('cleanText: titles are data', () => {
  it('removes NUL, BEL, escape sequences and bidi overrides; line breaks become spaces', () => {
    expect(cleanText('Ship\u0000 it')).toBe('Ship it');
    expect(cleanText('\u001b[31mred\u001b[0m and \u001b]0;pwned\u0007plain\u0007')).toBe('red and plain');
    expect(cleanText('line one\r\nline two\n\tthree')).toBe('line one line two three');
    expect(cleanText('abc\u202edef\u009b2Jx')).toBe('abcdefx');
    expect(cleanText(controlText)).not.toMatch(unsafe);
  });

  it('bounds the length, cutting at a character boundary', () => {
    const long = cleanText('😀'.repeat(1000), 101);
    expect(long.length).toBeLessThanOrEqual(101);
    expect(long.endsWith('…')).toBe(true);
    expect(long).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(cleanText('\u001b'.repeat(10_000_000) + 'tail', 50).length).toBeLessThanOrEqual(50);
  });
});

describe('one malformed record never breaks a source', () => {
  it('skips [null], links: 5, links: [null] and a null agent name, naming each; keeps the good records', () => {
    const cards = checkRecords(
      [
        null,
        goodCard('ok-1', 'coo'),
        goodCard('links-number', 'coo', { metadata: { links: 5 } }),
        goodCard('links-null', 'coo', { metadata: { links: [null] } }),
        goodCard('ok-2', 'coo', { priority: 'constructor' }),
        goodCard('title-number', 'coo', { title: 42 }),
      ],
      'card',
      checkCard,
    );
    expect(cards.items.map((c) => c.id)).toEqual(['ok-1', 'ok-2']);
    expect(cards.skippedCount).toBe(4);
    expect(cards.skipped).toEqual([
      'card #0: is null, not an object',
      'card #2 (links-number): metadata.links is number 5, not a list',
      'card #3 (links-null): metadata.links[0] is null, not an object',
      'card #5 (title-number): title is number 42, not a string',
    ]);
    const agents = checkRecords(
      [
        { id: 'a', name: null, model: 'coo' },
        { id: 'b', name: 'coo' },
      ],
      'agent',
      checkAgent,
    );
    expect(agents.items.map((a) => a.id)).toEqual(['b']);
    expect(multicaAgentFor('coo', undefined, agents.items)).toBe('b');
    expect(skippedWarning('workboard cards', cards)).toBe(
      'workboard cards: skipped 4 malformed record(s): card #0: is null, not an object; card #2 (links-number): metadata.links is number 5, not a list; card #3 (links-null): metadata.links[0] is null, not an object; and 1 more',
    );
  });

  it('priorities named like Object.prototype members ("constructor", "toString", "__proto__") are unknown priorities', () => {
    for (const priority of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const card = cardToTask(checkCard(goodCard('c', 'coo', { priority })))!;
      const issue = issueToTask(checkIssue(goodIssue('i', agentId, { priority })))!;
      for (const task of [card, issue]) {
        expect(task.priority).toBe('normal');
        expect(parsePriority(task.priority)).toBe(3);
      }
    }
  });

  it('a dependency named "constructor" is not found on Object.prototype', () => {
    const task: Task = { source: 'workboard', id: 't', title: 't', status: 'todo', priority: 'normal', dependsOn: ['constructor'], updatedAt: 0 };
    const e = evaluate([task], emptyMemory(), { now: 0, stallAfterMs: 1, known: { workboard: {} } });
    expect(e.blocked.map((b) => b.waitingOn)).toEqual([['constructor']]);
  });

  it('a cached value that is damaged or of another shape is refused, and an old bare list is checked again', () => {
    expect(() => cachedIssues({ nope: 1 })).toThrow(/damaged/);
    expect(() => cachedCards(null)).toThrow(/damaged/);
    const old = cachedCards([null, goodCard('c', 'coo')]);
    expect(old.items.map((c) => c.id)).toEqual(['c']);
    expect(old.skippedCount).toBe(1);
  });
});

describe('multica paging', () => {
  const pages = (total: number, assigneeAt: number, pageCalls: number[]) => async (offset: number) => {
    pageCalls.push(offset);
    const issues = [];
    for (let i = offset; i < Math.min(total, offset + 100); i++)
      issues.push({ id: `id-${i}`, title: `t${i}`, status: 'todo', assignee_type: 'agent', assignee_id: i === assigneeAt ? agentId : 'someone' });
    return { has_more: offset + 100 < total, issues, limit: 100, offset, total };
  };

  it("pages to the end of 100,000 issues: the agent's issue at 99,990 is found and the source is not truncated", async () => {
    const calls: number[] = [];
    const checked = await pageIssues(pages(100_000, 99_990, calls));
    expect(calls).toHaveLength(1000);
    expect(checked.truncated).toBeUndefined();
    expect(checked.items).toHaveLength(100_000);
    expect(issueTasks(checked.items, agentId).map((t) => t.id)).toEqual(['id-99990']);
  });

  it('past the bound the source says it is truncated and keeps what it read', async () => {
    const calls: number[] = [];
    const checked = await pageIssues(pages(1000, 150, calls), 3);
    expect(calls).toEqual([0, 100, 200]);
    expect(checked.truncated).toBe('truncated after 300 issues (3 pages, the paging bound); more remain unread');
    expect(issueTasks(checked.items, agentId).map((t) => t.id)).toEqual(['id-150']);
  });

  it('a server that repeats a page, or sends an empty page with has_more, is stopped at once', async () => {
    let calls = 0;
    const same = await pageIssues(async () => (calls++, { has_more: true, issues: [{ id: 'a', title: 'a', status: 'todo' }] }));
    expect(calls).toBe(2);
    expect(same.truncated).toMatch(/sent the same issues again at offset 1/);
    calls = 0;
    const empty = await pageIssues(async () => (calls++, { has_more: true, issues: [] }));
    expect(calls).toBe(1);
    expect(empty.truncated).toMatch(/an empty page at offset 0/);
  });

  it('a page that is not a list of issues makes the source unavailable', async () => {
    for (const doc of [null, 5, [], { issues: 5 }, { issues: null }, JSON.parse('{"__proto__": {"issues": []}}')]) {
      await expect(pageIssues(async () => doc)).rejects.toThrow(/without an "issues" list/);
    }
  });
});

describe('todo docs', () => {
  it('ignores task lines inside code fences and HTML comments', () => {
    const text = [
      '- [ ] Real one',
      '```markdown',
      '- [ ] Example in a fence',
      '~~~',
      '- [ ] Still in the backtick fence (a tilde fence does not close it)',
      '```',
      '- [ ] Real two <!-- a note -->',
      '~~~~',
      '- [ ] In a tilde fence',
      '~~~',
      '- [ ] Still inside: the closing fence is shorter',
      '~~~~~',
      '<!--',
      '- [ ] Commented out',
      '-->',
      '<!-- - [ ] inline comment -->',
      '  - [ ] Real three',
      'text <!-- opens',
      '- [ ] commented too',
      'closes --> - [ ] not a task either',
      '- [x] Real four',
    ].join('\n');
    expect(parseTasks(text, 'TODO.md', 1).map((t) => t.title)).toEqual(['Real one', 'Real two', 'Real three', 'Real four']);
  });

  it('follows symlinked TODO.md and tasks/, and a link loop ends', () => {
    const root = mkdtempSync(join(tmpdir(), 'claw-docs-'));
    const shared = join(root, 'shared');
    const workspace = join(root, 'ws');
    mkdirSync(join(shared, 'tasks', 'deep'), { recursive: true });
    mkdirSync(workspace);
    writeFileSync(join(shared, 'TODO.md'), '- [ ] From the linked TODO\n');
    writeFileSync(join(shared, 'tasks', 'deep', 'a.md'), '- [ ] From the linked tasks dir\n');
    symlinkSync(join(shared, 'TODO.md'), join(workspace, 'TODO.md'));
    symlinkSync(join(shared, 'tasks'), join(workspace, 'tasks'));
    symlinkSync('..', join(shared, 'tasks', 'deep', 'loop'));
    symlinkSync(workspace, join(shared, 'tasks', 'back'));
    symlinkSync(join(root, 'nowhere.md'), join(shared, 'tasks', 'broken.md'));
    const warnings: string[] = [];
    expect(findDocs(workspace, ['TODO.md', 'tasks/**/*.md'], warnings)).toEqual(['TODO.md', 'tasks/deep/a.md']);
    expect(warnings).toEqual(['docs: tasks/broken.md is a link to nothing']);
    expect(readDocs(workspace, ['TODO.md', 'tasks/**/*.md']).tasks.map((t) => t.title)).toEqual(['From the linked TODO', 'From the linked tasks dir']);
  });
});

describe('evaluation is linear in tasks', () => {
  /** The tasks behind a Proxy that counts every element read. */
  function counted(tasks: Task[]): { tasks: Task[]; reads: () => number } {
    let reads = 0;
    const proxy = new Proxy(tasks, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    return { tasks: proxy, reads: () => reads };
  }
  const docsTasks = (n: number): Task[] =>
    Array.from(
      { length: n },
      (_, i) =>
        ({
          source: 'docs',
          id: `t${i}`,
          title: `t${i}`,
          status: i % 2 ? 'todo' : 'done',
          priority: 'normal',
          dependsOn: [`t${n - 1 - i}`, `t${(i * 7) % n}`],
          updatedAt: 0,
        }) as Task,
    );

  it('reads each task a bounded number of times, however many tasks depend on others', () => {
    for (const n of [300, 3000]) {
      const { tasks, reads } = counted(docsTasks(n));
      const e = evaluate(tasks, emptyMemory(), { now: 0, stallAfterMs: 1, known: {} });
      expect(e.claimable.length + e.blocked.length).toBe(n / 2);
      expect(reads()).toBeLessThanOrEqual(3 * n);
    }
  });

  it('100,000 doc tasks with dependencies evaluate (result checked, not timed)', () => {
    const e = evaluate(docsTasks(100_000), emptyMemory(), { now: 0, stallAfterMs: 1, known: {} });
    expect(e.claimable.length + e.blocked.length).toBe(50_000);
    expect(e.blocked.find((b) => b.key === 'docs:t1')!.waitingOn).toEqual(['t7']);
  });
});

describe('fuzz: hostile records from every source, many seeds', () => {
  const agent = {
    id: 'coo',
    stallAfterMs: 3_600_000,
    priority: 3,
    dispatch: ['openclaw', 'agent', '--agent', '{agent}', '--message', '{message}'],
  } as unknown as AgentSpec;

  it('no exception; every good record becomes a clean task; bad ones are skipped and counted', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const issues = mixed(rand, 40, (i) => goodIssue(`good-${i}`, agentId), issueFields);
      const cards = mixed(rand, 40, (i) => goodCard(`good-${i}`, 'coo'), cardFields);
      const agents = mixed(rand, 10, (i) => ({ id: `good-${i}`, name: `agent${i}`, model: null }), agentFields);
      agents.records.unshift({ id: agentId, name: 'coo', model: 'coo', archived_at: null });
      agents.goodIds.unshift(agentId);
      const doc = ['- [ ] Good doc task 🆔 gooddoc ⏫', ...hostileDocLines(rand, 30)].join(rand() < 0.5 ? '\n' : '\r\n');

      const checkedIssues = checkRecords(issues.records, 'issue', checkIssue);
      const checkedCards = checkRecords(cards.records, 'card', checkCard);
      const checkedAgents = checkRecords(agents.records, 'agent', checkAgent);
      for (const [checked, raw] of [
        [checkedIssues, issues],
        [checkedCards, cards],
        [checkedAgents, agents],
      ] as const) {
        expect(checked.items.length + checked.skippedCount, `seed ${seed}`).toBe(raw.records.length);
        const ids = new Set(checked.items.map((r) => r.id));
        for (const id of raw.goodIds) expect(ids.has(id), `seed ${seed}: ${id}`).toBe(true);
        // What is cached survives a round trip through the store and a second check unchanged.
        expect(JSON.parse(JSON.stringify(checked.items)).length).toBe(checked.items.length);
      }
      const multicaId = multicaAgentFor('coo', undefined, checkedAgents.items);
      expect(multicaId).toBe(agentId);
      const tasks = [
        ...issueTasks(cachedIssues(JSON.parse(JSON.stringify(checkedIssues))).items, multicaId),
        ...cardTasks(cachedCards(JSON.parse(JSON.stringify(checkedCards))).items, 'coo'),
        ...parseTasks(doc, 'TODO.md', 1),
      ];
      for (const task of tasks) expectCleanTask(task);
      const keys = new Set(tasks.map((t) => `${t.source}:${t.id}`));
      for (const id of issues.goodIds) expect(keys.has(`multica:${id}`), `seed ${seed}`).toBe(true);
      for (const id of cards.goodIds) expect(keys.has(`workboard:${id}`), `seed ${seed}`).toBe(true);
      expect(keys.has('docs:gooddoc')).toBe(true);

      const e = evaluate(tasks, emptyMemory(), { now: Date.now(), stallAfterMs: 3_600_000, known: { workboard: cardStatuses(checkedCards.items) } });
      dispatchPriority(3, e.claimable);
      const message = dispatchMessage(agent, e.claimable.slice(0, 20), e.recover.slice(0, 20), Date.now());
      const argv = fillTemplate(agent.dispatch, { agent: 'coo', message, model: 'm' });
      for (const arg of argv) expect(arg.includes('\u0000')).toBe(false);
      expect(message.split('\n').every((line) => !unsafe.test(line))).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});
