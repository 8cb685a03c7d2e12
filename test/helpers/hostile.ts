// Seeded generators of hostile source data: nulls, wrong types, control characters, huge strings,
// prototype keys, mixed with good records that must survive.
import { multicaIssue, workboardCard } from './fleet';

/** mulberry32: a small seeded PRNG, so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

/** One to six of `parts`, joined: inputs for checking a parser against the one it replaced. */
export function joinedParts(rand: Rand, parts: readonly string[]): string {
  let text = '';
  for (let n = Math.floor(rand() * 6); n >= 0; n--) text += pick(rand, parts);
  return text;
}

export const controlText = 'a\u0000b\u001b[31mred\u001b[0m\u0007bell\r\nnext\u001b]0;title\u0007\u202egnp.exe\u0085\u009b2J\ud800';
export const prototypeWords = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'] as const;

/** A JSON value that an honest source would never send in that place. */
export function hostileValue(rand: Rand, depth = 0): unknown {
  const choices: (() => unknown)[] = [
    () => null,
    () => true,
    () => 0,
    () => -1,
    () => 1e308,
    () => 3.5,
    () => '',
    () => ' ',
    () => controlText,
    () => 'x'.repeat(100_000 + Math.floor(rand() * 1000)),
    () => '\u0000'.repeat(1000),
    () => pick(rand, prototypeWords),
    () => [],
    () => [null],
    () => ({}),
    () => JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "toString": 5}'),
    () => (depth < 3 ? [hostileValue(rand, depth + 1), hostileValue(rand, depth + 1)] : 'deep'),
    () => (depth < 3 ? { id: hostileValue(rand, depth + 1), type: hostileValue(rand, depth + 1) } : 'deep'),
    () => nested(200),
  ];
  return pick(rand, choices)();
}

function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** A copy of `good` with a few fields (known ones and prototype keys) set to hostile values, or something else entirely. */
export function hostileRecord(rand: Rand, good: Record<string, unknown>, fields: string[]): unknown {
  if (rand() < 0.15) return hostileValue(rand);
  const record: Record<string, unknown> = JSON.parse(JSON.stringify(good));
  const changes = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < changes; i++) {
    const key = rand() < 0.2 ? pick(rand, prototypeWords) : pick(rand, fields);
    const value = hostileValue(rand);
    if (key.includes('.')) {
      const [outer, inner] = key.split('.') as [string, string];
      const holder = record[outer] && typeof record[outer] === 'object' && !Array.isArray(record[outer]) ? (record[outer] as Record<string, unknown>) : {};
      Object.defineProperty(holder, inner, { value, enumerable: true, writable: true, configurable: true });
      record[outer] = holder;
    } else {
      // defineProperty: "__proto__" becomes an own key, as JSON.parse makes it.
      Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return record;
}

export const issueFields = [
  'id',
  'identifier',
  'title',
  'status',
  'status_category',
  'priority',
  'assignee_id',
  'assignee_type',
  'updated_at',
  'last_activity_at',
];
export const agentFields = ['id', 'name', 'model', 'archived_at'];
export const cardFields = ['id', 'title', 'status', 'priority', 'agentId', 'updatedAt', 'metadata', 'metadata.links', 'metadata.claim', 'metadata.archivedAt'];

export function goodCard(id: string, agentId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return workboardCard(id, { title: `Card ${id}`, priority: 'high', agentId, metadata: { links: [] }, ...fields });
}

export function goodIssue(id: string, assignee: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return multicaIssue({ id, identifier: id, title: `Issue ${id}`, assignee_id: assignee, ...fields });
}

/** `count` records, good ones (ids `good-N`) and hostile ones interleaved; returns both. */
export function mixed(rand: Rand, count: number, good: (i: number) => Record<string, unknown>, fields: string[]): { records: unknown[]; goodIds: string[] } {
  const records: unknown[] = [];
  const goodIds: string[] = [];
  for (let i = 0; i < count; i++) {
    if (rand() < 0.4) {
      const record = good(i);
      records.push(record);
      goodIds.push(record.id as string);
    } else {
      records.push(hostileRecord(rand, { ...good(i), id: `bad-${i}`, identifier: `bad-${i}` }, fields));
    }
  }
  return { records, goodIds };
}

/** Lines of a todo doc that no writer intends as tasks, and some broken ones. */
export function hostileDocLines(rand: Rand, count: number): string[] {
  const lines = [
    () => `- [ ] ${controlText}`,
    () => `- [x] ${'y'.repeat(50_000)}`,
    () => `- [ ] 🆔 ${pick(rand, prototypeWords)} ⛔ ${pick(rand, prototypeWords)},constructor`,
    () => '- [ ] \u0000\u0000\u0000',
    () => '- [?] not a status',
    () => '```',
    () => '~~~~',
    () => '<!--',
    () => '-->',
    () => '<!-- - [ ] hidden -->',
    () => '\r',
    () => '\u001b]8;;http://evil\u0007link\u001b]8;;\u0007',
    () => `* [/] ${pick(rand, prototypeWords)} 🔺⏫🔼🔽⏬`,
    () => '- [ ] ⛔ ' + Array.from({ length: 200 }, (_, i) => `d${i}`).join(','),
  ];
  return Array.from({ length: count }, () => pick(rand, lines)());
}
