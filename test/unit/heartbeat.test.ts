import { describe, expect, it } from 'vitest';
import { parseTasks } from '../../src/sources/docs';
import { globMatcher } from '../../src/glob';
import { cardToTask } from '../../src/sources/workboard';
import { issueToTask, multicaAgentFor, multicaEnv } from '../../src/sources/multica';
import { countRounds, dispatchPriority, emptyMemory, evaluate } from '../../src/heartbeat/evaluate';
import { crontabBlock, replaceBlock, blockStart, blockEnd } from '../../src/cron/crontab';
import { fillTemplate } from '../../src/heartbeat/dispatch';
import { splayDelay } from '../../src/heartbeat/run';
import { writeMemory } from '../../src/heartbeat/memory';
import type { Task } from '../../src/sources/types';

describe('todo docs (Obsidian Tasks syntax)', () => {
  it('reads status, id, dependencies and priority, and strips fields from the title', () => {
    const text = [
      '# Tasks',
      '- [ ] Draft the review ⏫ 🆔 review ⛔ figures,budget 📅 2026-12-01',
      '- [/] Collect figures 🆔 figures',
      '- [x] Old thing',
      '- [-] Cancelled thing 🔽',
      '* [ ] Star bullet 🔺',
      'not a task - [ ] inline',
    ].join('\n');
    const tasks = parseTasks(text, 'TODO.md', 1000);
    expect(tasks.map((t) => [t.id, t.title, t.status, t.priority, t.dependsOn])).toEqual([
      ['review', 'Draft the review', 'todo', 'high', ['figures', 'budget']],
      ['figures', 'Collect figures', 'in_progress', 'normal', []],
      ['TODO.md#old-thing', 'Old thing', 'done', 'normal', []],
      ['TODO.md#cancelled-thing', 'Cancelled thing', 'done', 'low', []],
      ['TODO.md#star-bullet', 'Star bullet', 'todo', 'urgent', []],
    ]);
  });

  it('gives a task without an id the same slug whatever its script: ASCII, accented, CJK', () => {
    const tasks = parseTasks(['- [ ] Draft the Q3 review!', '- [ ] Préparer la revue -- Q3', '- [ ] 审核 Q3 预算', '- [ ] ...'].join('\n'), 'TODO.md', 0);
    expect(tasks.map((t) => t.id)).toEqual(['TODO.md#draft-the-q3-review', 'TODO.md#préparer-la-revue-q3', 'TODO.md#审核-q3-预算', 'TODO.md#']);
  });

  it('matches the default globs', () => {
    expect(globMatcher('tasks/**/*.md').test('tasks/a.md')).toBe(true);
    expect(globMatcher('tasks/**/*.md').test('tasks/x/y/a.md')).toBe(true);
    expect(globMatcher('TODO.md').test('sub/TODO.md')).toBe(false);
    expect(globMatcher('*.md').test('a/b.md')).toBe(false);
  });
});

describe('sources to one task shape', () => {
  it('maps workboard cards: ready is todo, running in progress, links are dependencies', () => {
    const task = cardToTask({
      id: 'c1',
      title: 'FAQ',
      status: 'ready',
      priority: 'urgent',
      agentId: 'secretary',
      updatedAt: 5,
      metadata: {
        links: [
          { type: 'blocked_by', targetCardId: 'c0' },
          { type: 'relates_to', targetCardId: 'c9' },
          { type: 'parent', targetCardId: 'p' },
        ],
        claim: { lastHeartbeatAt: 9 },
      },
    });
    expect(task).toMatchObject({ source: 'workboard', status: 'todo', priority: 'urgent', dependsOn: ['c0', 'p'], updatedAt: 9 });
    expect(cardToTask({ id: 'c2', title: 't', status: 'triage' })).toBeUndefined();
  });

  it('maps multica issues by status_category and priority', () => {
    expect(
      issueToTask({
        id: 'u',
        identifier: 'MUL-1',
        title: 't',
        status: 'qa',
        status_category: 'in_progress',
        priority: 'medium',
        last_activity_at: '2026-08-21T10:00:00Z',
      }),
    ).toMatchObject({
      id: 'MUL-1',
      status: 'in_progress',
      priority: 'normal',
      updatedAt: Date.parse('2026-08-21T10:00:00Z'),
    });
    expect(issueToTask({ id: 'u', title: 't', status: 'backlog' })).toBeUndefined();
    expect(issueToTask({ id: 'u', title: 't', status: 'in_review' })!.status).toBe('blocked');
  });

  it('maps agents by explicit id, then model, then name, and strips the in-task variables', () => {
    const agents = [
      { id: 'a', name: 'COO', model: 'other' },
      { id: 'b', name: 'x', model: 'coo' },
    ];
    expect(multicaAgentFor('coo', undefined, agents)).toBe('b');
    expect(multicaAgentFor('coo', 'explicit', agents)).toBe('explicit');
    expect(multicaAgentFor('other-agent', undefined, [{ id: 'c', name: 'Other-Agent' }])).toBe('c');
    const env = multicaEnv({ MULTICA_AGENT_ID: '1', MULTICA_TASK_ID: '2', MULTICA_DAEMON_PORT: '3', KEEP: 'yes' });
    expect(env).toEqual({ KEEP: 'yes' });
  });
});

const task = (fields: Partial<Task>): Task => ({
  source: 'docs',
  id: 'a',
  title: 'A',
  status: 'todo',
  priority: 'normal',
  dependsOn: [],
  updatedAt: 0,
  ...fields,
});

describe('evaluate', () => {
  it('claims only tasks whose dependencies are done, known across sources', () => {
    const e = evaluate([task({ id: 'a', dependsOn: ['b'] }), task({ id: 'b', status: 'done' }), task({ id: 'c', dependsOn: ['zz'] })], emptyMemory(), {
      now: 0,
      stallAfterMs: 1000,
      known: {},
    });
    expect(e.claimable.map((v) => v.task.id)).toEqual(['a']);
    expect(e.blocked.map((v) => [v.task.id, v.waitingOn])).toEqual([['c', ['zz']]]);
  });

  it('suspects a stall first, confirms it on a later run at the same progress mark, and clears it on progress', () => {
    const stalled = task({ status: 'in_progress', updatedAt: 0 });
    const one = evaluate([stalled], emptyMemory(), { now: 5000, stallAfterMs: 1000, known: {} });
    expect(one.stalled[0]!.stall).toBe('suspected');
    expect(one.recover).toEqual([]);
    const two = evaluate([stalled], one.memory, { now: 6000, stallAfterMs: 1000, known: {} });
    expect(two.stalled[0]!.stall).toBe('confirmed');
    expect(two.recover).toHaveLength(1);
    const progressed = evaluate([{ ...stalled, updatedAt: 5900 }], two.memory, { now: 6000, stallAfterMs: 1000, known: {} });
    expect(progressed.stalled).toEqual([]);
  });

  it("dispatches at the highest task priority, never below the agent's", () => {
    const views = (ps: Task['priority'][]) => ps.map((priority) => ({ key: priority, task: task({ priority }), rounds: 0 }));
    expect(dispatchPriority(3, views(['low', 'high']))).toBe(2);
    expect(dispatchPriority(2, views(['low']))).toBe(2);
    expect(dispatchPriority(4, views([]))).toBe(4);
  });

  it("stores an agent's memory only when the run changed it (an idle run writes nothing)", async () => {
    const writes: string[] = [];
    const store = { stateGet: async () => undefined, stateSet: async (_key: string, value: string) => void writes.push(value) };
    const tasks: Task[] = [{ source: 'docs', id: 'a', title: 'A', status: 'todo', priority: 'normal', dependsOn: [], updatedAt: 0 }];
    const first = evaluate(tasks, emptyMemory(), { now: 0, stallAfterMs: 1000, known: {} }).memory;
    await writeMemory(store, 'coo', first, JSON.stringify(emptyMemory()));
    expect(writes).toEqual([JSON.stringify(first)]);
    const again = evaluate(tasks, JSON.parse(writes[0]!), { now: 10, stallAfterMs: 1000, known: {} }).memory;
    await writeMemory(store, 'coo', again, writes[0]);
    expect(writes).toHaveLength(1);
  });

  it('counts a round per dispatched task: warns once at warnAt, pauses at maxRounds, and marks a recovery', () => {
    const limits = { maxRounds: 3, warnAt: 0.6 };
    let memory = emptyMemory();
    const warnings: string[][] = [];
    for (let run = 0; run < 4; run++) {
      const e = evaluate([task({ id: 'a' })], memory, { now: 0, stallAfterMs: 1000, known: {} });
      warnings.push(countRounds(e, e.claimable, limits));
      memory = e.memory;
    }
    expect(warnings).toEqual([[], ['docs:a has had 2 of 3 rounds'], ['docs:a reached 3 rounds and is paused'], []]);
    expect(memory.tasks['docs:a']).toMatchObject({ rounds: 3, paused: true, warned: true });
    const stalled = task({ id: 's', status: 'in_progress', updatedAt: 7 });
    const once = evaluate([stalled], emptyMemory(), { now: 5000, stallAfterMs: 1000, known: {} });
    const twice = evaluate([stalled], once.memory, { now: 6000, stallAfterMs: 1000, known: {} });
    countRounds(twice, twice.recover, limits);
    expect(twice.memory.tasks['docs:s']!.recoveredMark).toBe(7);
    expect(evaluate([stalled], twice.memory, { now: 7000, stallAfterMs: 1000, known: {} }).recover).toEqual([]);
  });
});

describe('dispatch and cron helpers', () => {
  it('fills argv templates without a shell', () => {
    expect(fillTemplate(['x', '--agent', '{agent}', '--message', '{message}', 'm={model}'], { agent: 'coo', message: 'a; rm -rf /', model: 'n/m' })).toEqual([
      'x',
      '--agent',
      'coo',
      '--message',
      'a; rm -rf /',
      'm=n/m',
    ]);
  });

  it('splays deterministically within the splay', () => {
    expect(splayDelay('host', 'coo', 90_000)).toBe(splayDelay('host', 'coo', 90_000));
    expect(splayDelay('host', 'coo', 90_000)).toBeLessThan(90_000);
    expect(new Set(['coo', 'secretary', 'lawyer', 'designer'].map((a) => splayDelay('h', a, 90_000))).size).toBe(4);
    expect(splayDelay('host', 'coo', 0)).toBe(0);
  });

  it('replaces only the marked crontab block', () => {
    const roster = { dir: '/r', agents: [{ id: 'coo', schedule: '*/10 * * * *', tz: 'Asia/Shanghai' }] } as never;
    const block = crontabBlock(roster, {
      claw: ['/usr/bin/node', '/x/claw'],
      logDir: '/logs',
      env: [['CLAW_HEARTBEATS_DIR', '/r']],
      notes: [],
      cron: 'honours-tz',
      hostTz: 'UTC',
    });
    expect(block).toBe(
      `${blockStart}\nCLAW_HEARTBEATS_DIR=/r\n*/5 * * * * /usr/bin/node /x/claw poll >> /logs/poll.log 2>&1\nCRON_TZ=Asia/Shanghai\n*/10 * * * * /usr/bin/node /x/claw heartbeat coo >> /logs/coo.log 2>&1\nCRON_TZ=UTC\n${blockEnd}\n`,
    );
    const mine = 'MAILTO=x\n';
    const once = replaceBlock(mine, block);
    expect(replaceBlock(once, block)).toBe(once);
    expect(replaceBlock(`${once}0 1 * * * other\n`, block.replace('*/10', '*/5'))).toBe(`${mine}${block.replace('*/10', '*/5')}0 1 * * * other\n`);
  });
});
