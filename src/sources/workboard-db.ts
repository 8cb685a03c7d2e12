// WorkBoard cards read straight from the plugin's database, read-only, instead of starting
// `openclaw workboard list --json` (7-15 s and ~635 MB per call). Only a schema claw knows is read,
// and the cards come out exactly as the CLI prints them (openclaw 2026.9.6, extensions/workboard:
// sqlite-store-records.ts readCard, store.ts readCards/compareCards, cli.ts redactClaimToken).
// Anything unknown or unreadable returns a reason instead, and the caller falls back to the CLI.
import { openReadOnlyDatabase, type SqlValue } from '../store/sqlite-driver.js';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export type WorkboardRead = 'auto' | 'db' | 'cli';
export const workboardReadModes: WorkboardRead[] = ['auto', 'db', 'cli'];

/** Migration ids (workboard_schema_migrations) whose tables this reader maps exactly. */
export const knownWorkboardSchemas = ['schema-3'];

type Row = Record<string, unknown>;

export interface ReadOnlyDb {
  all(sql: string, ...params: unknown[]): Row[];
  exec(sql: string): void;
  close(): void;
}

/** A locked database is the CLI's business: wait briefly, then fall back. */
const busyTimeoutMs = 250;

/** Through the store's SQLite driver (node:sqlite, or better-sqlite3 on Node 20), read-only. */
export function openReadOnly(file: string): ReadOnlyDb {
  const db = openReadOnlyDatabase(file, { timeoutMs: busyTimeoutMs });
  return {
    all: (sql, ...params) => db.prepare(sql).all(...(params as SqlValue[])) as Row[],
    exec: (sql) => void db.exec(sql),
    close: () => db.close(),
  };
}

/**
 * The file `openclaw` itself reads: `$OPENCLAW_STATE_DIR/plugins/workboard/workboard.sqlite`, else
 * under `~/.openclaw` (OPENCLAW_HOME, else HOME), or the legacy `~/.clawdbot` when only that exists.
 */
export function workboardDbFile(env: NodeJS.ProcessEnv): string {
  const home = env.OPENCLAW_HOME?.trim() || env.HOME || homedir();
  const override = env.OPENCLAW_STATE_DIR?.trim();
  let stateDir: string;
  if (override) stateDir = resolve(override.replace(/^~(?=$|\/)/, home));
  else {
    stateDir = join(home, '.openclaw');
    if (!existsSync(stateDir) && existsSync(join(home, '.clawdbot'))) stateDir = join(home, '.clawdbot');
  }
  return join(stateDir, 'plugins', 'workboard', 'workboard.sqlite');
}

export type DbCards = { ok: true; file: string; schema: string; cards: unknown[] } | { ok: false; file: string; reason: string };

const statuses = ['triage', 'backlog', 'todo', 'scheduled', 'ready', 'running', 'review', 'blocked', 'done'];
const childTables = [
  'workboard_card_labels',
  'workboard_card_events',
  'workboard_card_attempts',
  'workboard_card_comments',
  'workboard_card_links',
  'workboard_card_proof',
  'workboard_card_artifacts',
  'workboard_card_attachments',
  'workboard_worker_logs',
  'workboard_card_diagnostics',
  'workboard_card_notifications',
] as const;

function str(row: Row, key: string): string | undefined {
  const value = row[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function num(row: Row, key: string): number | undefined {
  const value = row[key];
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

function needStr(row: Row, key: string): string {
  const value = str(row, key);
  if (!value) throw new Error(`workboard sqlite row missing ${key}`);
  return value;
}

function needNum(row: Row, key: string): number {
  const value = num(row, key);
  if (value === undefined) throw new Error(`workboard sqlite row missing ${key}`);
  return value;
}

function json(value: unknown): unknown {
  return typeof value === 'string' && value ? JSON.parse(value) : undefined;
}

/** Copies `keys` from `row` (column -> field) when present: the CLI omits empty strings and nulls. */
function optional(row: Row, fields: Record<string, string>, kind: 'str' | 'num'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(fields)) {
    const value = kind === 'str' ? str(row, column) : num(row, column);
    if (value !== undefined) out[field] = value;
  }
  return out;
}

function nonEmpty<T>(name: string, list: T[]): Record<string, T[]> {
  return list.length > 0 ? { [name]: list } : {};
}

function readCard(row: Row, children: (table: (typeof childTables)[number]) => Row[], protocol: Row | undefined): Record<string, unknown> {
  const id = needStr(row, 'id');
  const card: Record<string, unknown> = {
    id,
    title: needStr(row, 'title'),
    status: needStr(row, 'status'),
    priority: needStr(row, 'priority'),
    labels: children('workboard_card_labels').flatMap((r) => (str(r, 'label') ? [str(r, 'label')] : [])),
    position: needNum(row, 'position'),
    createdAt: needNum(row, 'created_at'),
    updatedAt: needNum(row, 'updated_at'),
  };
  const events = children('workboard_card_events').map((r) => ({
    id: needStr(r, 'id'),
    kind: needStr(r, 'kind'),
    at: needNum(r, 'at'),
    ...optional(r, { fromStatus: 'from_status', toStatus: 'to_status', sessionKey: 'session_key', runId: 'run_id' }, 'str'),
  }));
  const metadata: Record<string, unknown> = {
    ...nonEmpty(
      'attempts',
      children('workboard_card_attempts').map((r) => ({
        id: needStr(r, 'id'),
        status: needStr(r, 'status'),
        startedAt: needNum(r, 'started_at'),
        ...optional(r, { endedAt: 'ended_at' }, 'num'),
        ...optional(r, { engine: 'engine', mode: 'mode', model: 'model', sessionKey: 'session_key', runId: 'run_id', error: 'error' }, 'str'),
      })),
    ),
    ...nonEmpty(
      'comments',
      children('workboard_card_comments').map((r) => ({
        id: needStr(r, 'id'),
        body: needStr(r, 'body'),
        createdAt: needNum(r, 'created_at'),
        ...optional(r, { updatedAt: 'updated_at' }, 'num'),
      })),
    ),
    ...nonEmpty(
      'links',
      children('workboard_card_links').map((r) => ({
        id: needStr(r, 'id'),
        type: needStr(r, 'type'),
        createdAt: needNum(r, 'created_at'),
        ...optional(r, { targetCardId: 'target_card_id', title: 'title', url: 'url' }, 'str'),
      })),
    ),
    ...nonEmpty(
      'proof',
      children('workboard_card_proof').map((r) => ({
        id: needStr(r, 'id'),
        status: needStr(r, 'status'),
        createdAt: needNum(r, 'created_at'),
        ...optional(r, { label: 'label', command: 'command', url: 'url', note: 'note' }, 'str'),
      })),
    ),
    ...nonEmpty(
      'artifacts',
      children('workboard_card_artifacts').map((r) => ({
        id: needStr(r, 'id'),
        createdAt: needNum(r, 'created_at'),
        ...optional(r, { label: 'label', url: 'url', path: 'path', mimeType: 'mime_type' }, 'str'),
      })),
    ),
    ...nonEmpty(
      'attachments',
      children('workboard_card_attachments').map((r) => ({
        id: needStr(r, 'id'),
        cardId: needStr(r, 'card_id'),
        createdAt: needNum(r, 'created_at'),
        fileName: needStr(r, 'file_name'),
        byteSize: needNum(r, 'byte_size'),
        ...optional(r, { mimeType: 'mime_type', note: 'note' }, 'str'),
      })),
    ),
    ...nonEmpty(
      'workerLogs',
      children('workboard_worker_logs').map((r) => ({
        id: needStr(r, 'id'),
        createdAt: needNum(r, 'created_at'),
        level: needStr(r, 'level'),
        message: needStr(r, 'message'),
        ...optional(r, { sessionKey: 'session_key', runId: 'run_id' }, 'str'),
      })),
    ),
  };
  if (protocol)
    metadata.workerProtocol = {
      state: needStr(protocol, 'state'),
      updatedAt: needNum(protocol, 'updated_at'),
      ...optional(protocol, { detail: 'detail' }, 'str'),
    };
  const automation = json(row.automation_json);
  if (automation) metadata.automation = automation;
  const claim = json(row.claim_json) as Record<string, unknown> | undefined;
  // The CLI prints every claim with its token redacted; the token never reaches claw's cache.
  if (claim) metadata.claim = { ...claim, token: '[redacted]' };
  Object.assign(
    metadata,
    nonEmpty(
      'diagnostics',
      children('workboard_card_diagnostics').map((r) => ({
        kind: needStr(r, 'kind'),
        severity: needStr(r, 'severity'),
        title: needStr(r, 'title'),
        detail: needStr(r, 'detail'),
        firstSeenAt: needNum(r, 'first_seen_at'),
        lastSeenAt: needNum(r, 'last_seen_at'),
        count: needNum(r, 'count'),
        actions: json(r.actions_json) ?? [],
      })),
    ),
    nonEmpty(
      'notifications',
      children('workboard_card_notifications').map((r) => ({
        id: needStr(r, 'id'),
        kind: needStr(r, 'kind'),
        createdAt: needNum(r, 'created_at'),
        message: needStr(r, 'message'),
        ...optional(r, { sequence: 'sequence' }, 'num'),
        ...optional(r, { sessionKey: 'session_key', runId: 'run_id' }, 'str'),
      })),
    ),
    optional(row, { templateId: 'template_id' }, 'str'),
    optional(row, { archivedAt: 'archived_at' }, 'num'),
  );
  const stale = json(row.stale_json);
  if (stale) metadata.stale = stale;
  Object.assign(metadata, optional(row, { lifecycleStatusSourceUpdatedAt: 'lifecycle_status_source_updated_at', failureCount: 'failure_count' }, 'num'));
  const executionId = str(row, 'execution_id');
  return {
    ...card,
    ...optional(row, { notes: 'notes', agentId: 'agent_id', sessionKey: 'session_key', runId: 'run_id', taskId: 'task_id', sourceUrl: 'source_url' }, 'str'),
    ...(executionId
      ? {
          execution: {
            id: executionId,
            kind: 'agent-session',
            mode: needStr(row, 'execution_mode'),
            status: needStr(row, 'execution_status'),
            ...optional(row, { engine: 'execution_engine', model: 'execution_model', sessionKey: 'execution_session_key', runId: 'execution_run_id' }, 'str'),
            startedAt: needNum(row, 'execution_started_at'),
            updatedAt: needNum(row, 'execution_updated_at'),
          },
        }
      : {}),
    ...optional(row, { startedAt: 'started_at', completedAt: 'completed_at' }, 'num'),
    ...nonEmpty('events', events),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

function byCard(rows: Row[]): Map<string, Row[]> {
  const grouped = new Map<string, Row[]>();
  for (const row of rows) {
    const id = str(row, 'card_id');
    if (!id) continue;
    const bucket = grouped.get(id);
    if (bucket) bucket.push(row);
    else grouped.set(id, [row]);
  }
  return grouped;
}

/** The cards of one board (or all boards), ordered as the CLI orders them. */
export function readCards(db: ReadOnlyDb, board: string | undefined): unknown[] {
  const rows =
    board === undefined
      ? db.all('select * from workboard_cards order by created_at asc, id asc')
      : db.all('select * from workboard_cards where board_id = ? order by created_at asc, id asc', board);
  const tables = new Map(childTables.map((t) => [t, byCard(db.all(`select * from ${t} order by card_id asc, ordinal asc`))]));
  const protocols = new Map(db.all('select * from workboard_worker_protocol').map((r) => [str(r, 'card_id'), r]));
  const cards = rows.map((row) => {
    const id = str(row, 'id') ?? '';
    return readCard(row, (t) => tables.get(t)!.get(id) ?? [], protocols.get(id));
  });
  // compareCards: status in the plugin's order, then position, then createdAt (a stable sort).
  const rank = (c: Record<string, unknown>) => statuses.indexOf(c.status as string);
  return cards.sort((a, b) => rank(a) - rank(b) || (a.position as number) - (b.position as number) || (a.createdAt as number) - (b.createdAt as number));
}

/** `--board` as the CLI normalises it; undefined when the CLI would reject it (it explains better). */
function boardId(board: string | undefined): string | undefined | null {
  if (board === undefined || board.trim() === '') return undefined;
  const id = board.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9._-]{0,79}$/.test(id) ? id : null;
}

type Opened<T> = ({ ok: true; file: string; schema: string } & T) | { ok: false; file: string; reason: string };

/** Opens the database read-only in one read transaction when its schema is one claw knows; never writes. */
function withDatabase<T extends object>(env: NodeJS.ProcessEnv, read: (db: ReadOnlyDb) => T, open: (file: string) => ReadOnlyDb): Opened<T> {
  const file = workboardDbFile(env);
  if (env.OPENCLAW_PROFILE?.trim()) return { ok: false, file, reason: 'OPENCLAW_PROFILE is set (profiles keep their own state dir)' };
  if (!existsSync(file)) return { ok: false, file, reason: `no database at ${file}` };
  let db: ReadOnlyDb | undefined;
  try {
    db = open(file);
    db.exec('begin');
    const applied = db.all('select id from workboard_schema_migrations order by id').map((r) => String(r.id));
    const unknown = applied.filter((m) => !knownWorkboardSchemas.includes(m));
    const schema = knownWorkboardSchemas.find((s) => applied.includes(s));
    if (!schema || unknown.length > 0) {
      return { ok: false, file, reason: `schema ${applied.join(', ') || '(none)'} is not one claw reads (${knownWorkboardSchemas.join(', ')})` };
    }
    return { ok: true, file, schema, ...read(db) };
  } catch (err) {
    return { ok: false, file, reason: `cannot read ${file}: ${(err as Error).message}` };
  } finally {
    try {
      db?.close();
    } catch {
      // closing a read-only handle cannot lose anything
    }
  }
}

/**
 * `openclaw workboard list [--board <id>] --json` without the CLI: the cards, or why not (no file,
 * an unknown schema, a locked or broken file).
 */
export function cardsFromDatabase(board: string | undefined, env: NodeJS.ProcessEnv, open: (file: string) => ReadOnlyDb = openReadOnly): DbCards {
  const id = boardId(board);
  if (id === null) return { ok: false, file: workboardDbFile(env), reason: `board id "${board}" is not one the plugin accepts` };
  return withDatabase(env, (db) => ({ cards: readCards(db, id) }), open);
}

export interface WorkboardPath {
  mode: WorkboardRead;
  path: 'db' | 'cli';
  file: string;
  reason: string;
  /** Set when the database cannot be read (auto falls back to the CLI; db fails). */
  fallback?: string;
  schema?: string;
}

/** Which path a WorkBoard read takes now, and why: for `status` and `doctor` (checks the schema, reads no cards). */
export function workboardPath(env: NodeJS.ProcessEnv, mode: WorkboardRead, open: (file: string) => ReadOnlyDb = openReadOnly): WorkboardPath {
  const file = workboardDbFile(env);
  if (mode === 'cli') return { mode, path: 'cli', file, reason: 'workboard.read is "cli"' };
  const probe = withDatabase(env, () => ({}), open);
  if (probe.ok) return { mode, path: 'db', file, schema: probe.schema, reason: `reads ${file} (${probe.schema}) read-only` };
  if (mode === 'db') return { mode, path: 'db', file, fallback: probe.reason, reason: `workboard.read is "db" but ${probe.reason}` };
  return { mode, path: 'cli', file, fallback: probe.reason, reason: `openclaw workboard list (${probe.reason})` };
}
