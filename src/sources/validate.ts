// Source data is checked record by record before it is cached: a malformed record is skipped with a
// warning that names it, the good ones are kept; a document that is wrong as a whole is a SourceError
// (the source is unavailable, stale-if-error serves the last good value). Only the fields claw reads
// are kept, cleaned and bounded, so the shared cache never holds a bad or oversized value.
import { SourceError } from '../errors.js';
import type { MulticaAgent, MulticaIssue, WorkboardCard } from './types.js';
import { cleanText, maxIdLength, maxTitleLength } from './text.js';

/** A source's records as cached: the good ones, and what was skipped. */
export interface Checked<T> {
  items: T[];
  /** The first few skipped records, each named (index, id) with what was wrong. */
  skipped: string[];
  skippedCount: number;
  /** Set when the source was read only in part (Multica paging bound); the source is degraded. */
  truncated?: string;
}

const maxNamedSkips = 20;
const maxStatusLength = 64;

type Json = Record<string, unknown>;

export const isRecord = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);
/** Own properties only: a record's "constructor" or "__proto__" is its data, never Object.prototype's. */
const own = (record: Json, key: string): unknown => (Object.hasOwn(record, key) ? record[key] : undefined);

/** What is wrong with one record; thrown by the record checks, caught by checkRecords. */
export class Bad extends Error {}

function text(record: Json, key: string, required: boolean, maxLength = maxStatusLength): string | undefined {
  const value = own(record, key);
  if (value === undefined || value === null) {
    if (required) throw new Bad(`${key} is ${value === null ? 'null' : 'missing'}`);
    return undefined;
  }
  if (typeof value !== 'string') throw new Bad(`${key} is ${describe(value)}, not a string`);
  return cleanText(value, maxLength);
}

function id(record: Json, key: string, required: boolean): string | undefined {
  const value = text(record, key, required, maxIdLength);
  if (value === '' && required) throw new Bad(`${key} is empty`);
  return value || undefined;
}

function time(record: Json, key: string): number | undefined {
  const value = own(record, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Bad(`${key} is ${describe(value)}, not a time in epoch ms`);
  return value;
}

function record(parent: Json, key: string): Json | undefined {
  const value = own(parent, key);
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new Bad(`${key} is ${describe(value)}, not an object`);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `a string`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${cleanText(String(value), 20)}`;
}

function object(raw: unknown): Json {
  if (!isRecord(raw)) throw new Bad(`is ${describe(raw)}, not an object`);
  return raw;
}

export function checkIssue(raw: unknown): MulticaIssue {
  const r = object(raw);
  const issue: MulticaIssue = { id: id(r, 'id', true)!, title: text(r, 'title', true, maxTitleLength)!, status: text(r, 'status', true)! };
  const identifier = id(r, 'identifier', false);
  if (identifier) issue.identifier = identifier;
  for (const key of ['status_category', 'priority', 'assignee_type'] as const) {
    const value = text(r, key, false);
    if (value !== undefined) issue[key] = value;
  }
  const assignee = id(r, 'assignee_id', false);
  if (assignee) issue.assignee_id = assignee;
  for (const key of ['updated_at', 'last_activity_at'] as const) {
    const value = text(r, key, false);
    if (value !== undefined) issue[key] = value;
  }
  return issue;
}

export function checkAgent(raw: unknown): MulticaAgent {
  const r = object(raw);
  const agent: MulticaAgent = { id: id(r, 'id', true)!, name: text(r, 'name', true, maxIdLength)! };
  const model = text(r, 'model', false, maxIdLength);
  if (model !== undefined) agent.model = model;
  const archived = own(r, 'archived_at');
  if (archived !== undefined && archived !== null) {
    if (typeof archived !== 'string' && typeof archived !== 'number') throw new Bad(`archived_at is ${describe(archived)}, not a time`);
    agent.archived_at = String(archived).slice(0, 64);
  }
  return agent;
}

/** Link types that make a card wait; a link of such a type must name its target. */
const dependencyLinks = new Set(['blocked_by', 'parent']);

export function checkCard(raw: unknown): WorkboardCard {
  const r = object(raw);
  const card: WorkboardCard = { id: id(r, 'id', true)!, title: text(r, 'title', true, maxTitleLength)!, status: text(r, 'status', true)! };
  const priority = text(r, 'priority', false);
  if (priority !== undefined) card.priority = priority;
  const agentId = id(r, 'agentId', false);
  if (agentId) card.agentId = agentId;
  const updatedAt = time(r, 'updatedAt');
  if (updatedAt !== undefined) card.updatedAt = updatedAt;
  // OpenClaw's progress signal reads execution.updatedAt after the claim's heartbeat.
  const execution = record(r, 'execution');
  if (execution) {
    const executionUpdatedAt = time(execution, 'updatedAt');
    card.execution = executionUpdatedAt !== undefined ? { updatedAt: executionUpdatedAt } : {};
  }
  const meta = record(r, 'metadata');
  if (meta) {
    const metadata: NonNullable<WorkboardCard['metadata']> = {};
    const archivedAt = time(meta, 'archivedAt');
    if (archivedAt !== undefined) metadata.archivedAt = archivedAt;
    const links = own(meta, 'links');
    if (links !== undefined && links !== null) {
      if (!Array.isArray(links)) throw new Bad(`metadata.links is ${describe(links)}, not a list`);
      // A link we cannot read might be a dependency: the whole card is skipped, never run early.
      metadata.links = links.map((link, i) => {
        if (!isRecord(link)) throw new Bad(`metadata.links[${i}] is ${describe(link)}, not an object`);
        const type = text(link, 'type', true)!;
        const target = id(link, 'targetCardId', false);
        if (!target && dependencyLinks.has(type)) throw new Bad(`metadata.links[${i}] (${type}) names no targetCardId`);
        return { type, targetCardId: target ?? '' };
      });
    }
    const claim = record(meta, 'claim');
    if (claim) {
      const lastHeartbeatAt = time(claim, 'lastHeartbeatAt');
      metadata.claim = lastHeartbeatAt !== undefined ? { lastHeartbeatAt } : {};
    }
    card.metadata = metadata;
  }
  return card;
}

/** Adds the good records of `raw` to `into`, naming each skipped one (`first` = index of raw[0] in the source). */
export function checkRecords<T>(raw: unknown[], kind: string, check: (r: unknown) => T, into: Checked<T> = emptyChecked(), first = 0): Checked<T> {
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i];
    try {
      into.items.push(check(item));
    } catch (err) {
      if (!(err instanceof Bad)) throw err;
      into.skippedCount++;
      if (into.skipped.length >= maxNamedSkips) continue;
      const rawId = isRecord(item) ? (own(item, 'identifier') ?? own(item, 'id')) : undefined;
      const name = typeof rawId === 'string' && cleanText(rawId, 40) ? ` (${cleanText(rawId, 40)})` : '';
      into.skipped.push(`${kind} #${first + i}${name}: ${err.message}`);
    }
  }
  return into;
}

export const emptyChecked = <T>(): Checked<T> => ({ items: [], skipped: [], skippedCount: 0 });

/**
 * A cached value read back from the store, checked again: it may have been written by an older
 * claw (a bare list) or be damaged. Throws SourceError when it cannot be used at all.
 */
export function checkCached<T>(kind: string, check: (r: unknown) => T): (value: unknown) => Checked<T> {
  return (value) => {
    if (Array.isArray(value)) return checkRecords(value, kind, check);
    if (!isRecord(value) || !Array.isArray(own(value, 'items'))) throw new SourceError(`the cached ${kind} list is damaged`);
    const skipped = own(value, 'skipped');
    const count = own(value, 'skippedCount');
    const truncated = own(value, 'truncated');
    const into: Checked<T> = {
      items: [],
      skipped: Array.isArray(skipped)
        ? skipped
            .filter((s): s is string => typeof s === 'string')
            .slice(0, maxNamedSkips)
            .map((s) => cleanText(s, 300))
        : [],
      skippedCount: 0,
    };
    const storedCount = typeof count === 'number' && Number.isFinite(count) ? Math.max(0, Math.floor(count)) : into.skipped.length;
    checkRecords(own(value, 'items') as unknown[], kind, check, into);
    into.skippedCount += storedCount;
    if (typeof truncated === 'string') into.truncated = cleanText(truncated, 300);
    return into;
  };
}

export const cachedIssues = checkCached('issue', checkIssue);
export const cachedAgents = checkCached('agent', checkAgent);
export const cachedCards = checkCached('card', checkCard);

/** One bounded warning line for a source's skipped records, or none. */
export function skippedWarning(source: string, checked: Pick<Checked<unknown>, 'skipped' | 'skippedCount'>, named = 3): string | undefined {
  if (checked.skippedCount <= 0) return undefined;
  const shown = checked.skipped.slice(0, named);
  const more = checked.skippedCount - shown.length;
  return `${source}: skipped ${checked.skippedCount} malformed record(s): ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}
