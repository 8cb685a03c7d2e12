// The roster: heartbeats/<agent>.json plus defaults.json, validated with the file and field named.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { homedir } from 'node:os';
export { heartbeatsDir } from './paths.js';
import { checkSchedules, type ScheduleBook } from '../cron/schedule-book.js';
import { ConfigError, UsageError } from '../errors.js';
import { parseDuration } from '../duration.js';
import { parsePriority, type PriorityRank } from '../priority.js';
import { readRegularFile } from './files.js';

export interface AgentSpec {
  id: string;
  file: string;
  schedule: string;
  tz: string;
  workspace: string;
  multica?: { workspaceId: string; agentId?: string };
  workboard?: { board?: string };
  docs: string[];
  model: string;
  fallbackModel?: string;
  priority: PriorityRank;
  dispatch: string[];
  notify?: string[];
  stallAfterMs: number;
  maxRounds: number;
  warnAt: number;
  splayMs: number;
  timeoutMs: number;
  sourceTimeoutMs: number;
}

export interface Roster {
  dir: string;
  agents: AgentSpec[];
}

const agentKeys = new Set([
  'id',
  'schedule',
  'tz',
  'workspace',
  'multica',
  'workboard',
  'docs',
  'model',
  'fallbackModel',
  'priority',
  'dispatch',
  'notify',
  'stallAfter',
  'maxRounds',
  'warnAt',
  'splay',
  'timeout',
  'sourceTimeout',
]);

const agentIdPattern = /^[A-Za-z0-9_][\w.-]*$/;

// openclaw's --timeout ({timeout}: claw's timeout less a margin) ends the turn before claw's own
// timeout kills it; 11m leaves openclaw its default 600 s.
export const defaultDispatch = [
  'openclaw',
  'agent',
  '--agent',
  '{agent}',
  '--session-key',
  'claw-heartbeat',
  '--message',
  '{message}',
  '--timeout',
  '{timeout}',
  '--json',
];

const builtinDefaults: Record<string, unknown> = {
  tz: 'UTC',
  docs: ['TODO.md', 'tasks/**/*.md'],
  priority: 'normal',
  dispatch: defaultDispatch,
  stallAfter: '20m',
  maxRounds: 50,
  warnAt: 0.8,
  splay: '60s',
  timeout: '11m',
  sourceTimeout: '60s',
};

function readJson(file: string): Record<string, unknown> {
  let doc: unknown;
  const text = readRegularFile(file, 'roster file');
  if (text === undefined) throw new ConfigError(`${file}: no such file`);
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError(`${file}: must hold a JSON object`);
  return doc as Record<string, unknown>;
}

/** Whether `path` is a directory: one stat, and false for a missing or unreadable path, never a throw. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== '');
}

function loadDefaults(dir: string): Record<string, unknown> {
  if (!isDirectory(dir)) {
    throw new ConfigError(`heartbeats dir ${dir} does not exist: pass --heartbeats-dir, set CLAW_HEARTBEATS_DIR or \`claw config set heartbeatsDir <dir>\``);
  }
  const defaultsFile = join(dir, 'defaults.json');
  const defaults = existsSync(defaultsFile) ? readJson(defaultsFile) : {};
  for (const key of Object.keys(defaults)) {
    if (!agentKeys.has(key) || key === 'id') throw new ConfigError(`${defaultsFile}: unknown key "${key}"`);
  }
  return defaults;
}

/**
 * One agent's spec: `<id>.json` and defaults.json. A heartbeat validates only what it runs, so one
 * broken file in the roster does not stop every other agent's heartbeat.
 */
export async function loadAgent(dir: string, id: string, book: ScheduleBook, now: number): Promise<AgentSpec> {
  // The id names a file in the roster dir: nothing that could reach outside it (`../x`, `/etc/x`).
  if (!agentIdPattern.test(id)) {
    throw new UsageError(`"${id}" is not an agent id: use letters, digits, "-", "_" and "." (not first), as in the roster's file names`);
  }
  const defaults = loadDefaults(dir);
  const file = join(dir, `${id}.json`);
  if (existsSync(file)) {
    const agent = parseAgent(file, defaults, dir);
    if (agent.id === id) {
      await checkAgentSchedules([agent], book, now);
      return agent;
    }
  }
  return findAgent(await loadRoster(dir, book, now), id);
}

function checkAgentSchedules(agents: AgentSpec[], book: ScheduleBook, now: number): Promise<void> {
  return checkSchedules(
    book,
    agents.map((a) => ({
      schedule: a.schedule,
      tz: a.tz,
      fail: (field: string, why: string): never => {
        throw new ConfigError(`${a.file}: ${field}: ${why}`);
      },
    })),
    now,
  );
}

export async function loadRoster(dir: string, book: ScheduleBook, now: number): Promise<Roster> {
  const defaults = loadDefaults(dir);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.json') && name !== 'defaults.json')
    .sort();
  const agents = files.map((name) => parseAgent(join(dir, name), defaults, dir));
  const seen = new Set<string>();
  for (const agent of agents) {
    if (seen.has(agent.id)) throw new ConfigError(`${agent.file}: agent id "${agent.id}" is defined twice`);
    seen.add(agent.id);
  }
  await checkAgentSchedules(agents, book, now);
  return { dir, agents };
}

function parseAgent(file: string, defaults: Record<string, unknown>, dir: string): AgentSpec {
  const own = readJson(file);
  const fail = (field: string, why: string): never => {
    throw new ConfigError(`${file}: ${field}: ${why}`);
  };
  for (const key of Object.keys(own)) if (!agentKeys.has(key)) fail(key, `unknown key (known: ${[...agentKeys].join(', ')})`);
  const merged: Record<string, unknown> = { ...builtinDefaults, ...defaults, ...own };
  for (const nested of ['multica', 'workboard'] as const) {
    if (typeof defaults[nested] === 'object' && typeof own[nested] === 'object' && own[nested] !== null) {
      merged[nested] = { ...(defaults[nested] as object), ...(own[nested] as object) };
    }
  }
  const id = merged.id ?? basename(file, '.json');
  if (typeof id !== 'string' || !/^[\w.-]+$/.test(id)) fail('id', `must be a name of letters, digits, "-", "_" or "." (got ${JSON.stringify(id)})`);
  const agentId = id as string;

  // The time zone and the cron expression are checked against the schedule book (checkSchedules).
  const tz = merged.tz;
  if (typeof tz !== 'string' || tz === '') fail('tz', `must be an IANA time zone name such as Asia/Shanghai (got ${JSON.stringify(tz)})`);
  const schedule = merged.schedule;
  if (typeof schedule !== 'string') fail('schedule', 'missing: give a cron expression such as "*/10 * * * *"');

  const workspaceTemplate = merged.workspace;
  if (typeof workspaceTemplate !== 'string' || workspaceTemplate === '') fail('workspace', 'missing: give the agent workspace directory');
  const expanded = (workspaceTemplate as string).replace(/\{agent\}/g, agentId).replace(/^~(?=$|\/)/, homedir());
  const workspace = isAbsolute(expanded) ? expanded : resolve(dir, expanded);
  if (!isDirectory(workspace)) fail('workspace', `${workspace} does not exist`);

  const duration = (field: string): number => {
    const value = merged[field];
    const ms = typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
    if (ms === undefined) fail(field, `${JSON.stringify(value)} is not a duration (use 500ms, 2s, 10m, 1h or seconds)`);
    return ms!;
  };
  const template = (field: string): string[] | undefined => {
    const value = merged[field];
    if (value === undefined || value === null) return undefined;
    if (!isStringList(value)) fail(field, 'must be an argv list such as ["openclaw", "agent", "--agent", "{agent}", "--message", "{message}"]');
    return value as string[];
  };

  let multica: AgentSpec['multica'];
  if (merged.multica !== undefined && merged.multica !== null) {
    const m = merged.multica as Record<string, unknown>;
    if (typeof m !== 'object') fail('multica', 'must be an object { workspaceId, agentId? }');
    for (const key of Object.keys(m)) if (key !== 'workspaceId' && key !== 'agentId') fail(`multica.${key}`, 'unknown key (known: workspaceId, agentId)');
    const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
    if (typeof m.workspaceId !== 'string' || !uuid.test(m.workspaceId)) fail('multica.workspaceId', `must be a UUID (got ${JSON.stringify(m.workspaceId)})`);
    if (m.agentId !== undefined && typeof m.agentId !== 'string') fail('multica.agentId', 'must be a string');
    multica = { workspaceId: m.workspaceId as string, ...(m.agentId ? { agentId: m.agentId as string } : {}) };
  }
  let workboard: AgentSpec['workboard'];
  if (merged.workboard !== undefined && merged.workboard !== null && merged.workboard !== false) {
    const w = merged.workboard as Record<string, unknown>;
    if (typeof w !== 'object') fail('workboard', 'must be an object { board? } (or false to skip the workboard)');
    for (const key of Object.keys(w)) if (key !== 'board') fail(`workboard.${key}`, 'unknown key (known: board)');
    if (w.board !== undefined && typeof w.board !== 'string') fail('workboard.board', 'must be a string');
    workboard = w.board ? { board: w.board as string } : {};
  }

  const docs = merged.docs;
  if (!Array.isArray(docs) || !docs.every((d) => typeof d === 'string' && d !== '')) fail('docs', 'must be a list of globs under the workspace');
  const model = merged.model;
  if (typeof model !== 'string' || !model.includes('/')) fail('model', `must be a model ref provider/model (got ${JSON.stringify(model)})`);
  if (merged.fallbackModel !== undefined && (typeof merged.fallbackModel !== 'string' || !merged.fallbackModel.includes('/'))) {
    fail('fallbackModel', `must be a model ref provider/model (got ${JSON.stringify(merged.fallbackModel)})`);
  }
  const priority = parsePriority(String(merged.priority));
  if (priority === undefined) fail('priority', `unknown priority ${JSON.stringify(merged.priority)} (use urgent, high, normal or low)`);
  const maxRounds = merged.maxRounds;
  if (!Number.isInteger(maxRounds) || (maxRounds as number) < 1) fail('maxRounds', `must be a whole number >= 1 (got ${JSON.stringify(maxRounds)})`);
  const warnAt = merged.warnAt;
  if (typeof warnAt !== 'number' || warnAt <= 0 || warnAt > 1) fail('warnAt', `must be a fraction above 0 and at most 1 (got ${JSON.stringify(warnAt)})`);

  const notify = template('notify');
  return {
    id: agentId,
    file,
    schedule: schedule as string,
    tz: tz as string,
    workspace,
    ...(multica ? { multica } : {}),
    ...(workboard ? { workboard } : {}),
    docs: docs as string[],
    model: model as string,
    ...(merged.fallbackModel ? { fallbackModel: merged.fallbackModel as string } : {}),
    priority: priority!,
    dispatch: template('dispatch')!,
    ...(notify ? { notify } : {}),
    stallAfterMs: duration('stallAfter'),
    maxRounds: maxRounds as number,
    warnAt: warnAt as number,
    splayMs: duration('splay'),
    timeoutMs: duration('timeout'),
    sourceTimeoutMs: duration('sourceTimeout'),
  };
}

export function findAgent(roster: Roster, id: string): AgentSpec {
  const agent = roster.agents.find((a) => a.id === id);
  if (!agent) {
    throw new UsageError(`no agent "${id}" in ${roster.dir} (agents: ${roster.agents.map((a) => a.id).join(', ') || 'none'})`);
  }
  return agent;
}
