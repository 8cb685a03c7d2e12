// Collect an agent's tasks from the three sources; shared sources go through the shared cache.
import { cached, type CacheBackend, type CachePolicy, type Cached } from '../cache/cache.js';
import { SourceError } from '../errors.js';
import { formatDuration } from '../duration.js';
import type { AgentSpec } from '../config/roster.js';
import * as multica from '../sources/multica.js';
import * as workboard from '../sources/workboard.js';
import { readDocs } from '../sources/docs.js';
import type { MulticaAgent, MulticaIssue, SourceReport, WorkboardCard } from '../sources/types.js';
import { cachedAgents, cachedCards, cachedIssues, skippedWarning, type Checked } from '../sources/validate.js';
import type { WorkboardRead } from '../sources/workboard-db.js';
import type { ProcessRunner } from '../process/runner.js';

export interface GatherContext {
  store: CacheBackend;
  policy: CachePolicy;
  env: NodeJS.ProcessEnv;
  /** Starts `multica` and `openclaw` when a shared source is refreshed. */
  runner: ProcessRunner;
  owner: string;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Refresh shared sources even within their TTL (claw poll). */
  force?: boolean;
  /** Values already fetched in this process, by cache key (claw poll reports what it refreshed, stale included). */
  fetched?: Map<string, Promise<Cached<unknown>>>;
  /** The `workboard.read` config key: the plugin's database, the CLI, or auto (default). */
  workboardRead?: WorkboardRead | undefined;
}

/** How long one refresh of a shared source may hold its lease: two source timeouts and a margin. */
export function refreshLeaseMs(agent: AgentSpec): number {
  return agent.sourceTimeoutMs * 2 + 5000;
}

/** The key names the query: every board's cards (no --board) are not the default board's. */
export const cardsKey = (board: string | undefined): string => (board === undefined ? 'workboard:cards:all-boards' : `workboard:cards:board=${board}`);
export const issuesKey = (workspaceId: string): string => `multica:issues:${workspaceId}`;
export const multicaAgentsKey = (workspaceId: string): string => `multica:agents:${workspaceId}`;

/** One shared source value through the shared cache (refreshed once for every process). */
function shared<T>(
  ctx: GatherContext,
  key: string,
  category: string,
  leaseMs: number,
  refresh: () => Promise<T>,
  check: (value: unknown) => T,
): Promise<Cached<T>> {
  const known = ctx.fetched?.get(key) as Promise<Cached<T>> | undefined;
  if (known) return known;
  return cached(ctx.store, {
    key,
    category,
    policy: ctx.policy,
    leaseMs,
    owner: ctx.owner,
    refresh,
    check,
    sleep: ctx.sleep,
    ...(ctx.force ? { force: true } : {}),
  });
}

export function fetchIssues(ctx: GatherContext, workspaceId: string, timeoutMs: number, leaseMs: number): Promise<Cached<Checked<MulticaIssue>>> {
  return shared(ctx, issuesKey(workspaceId), 'multica', leaseMs, () => multica.listIssues(ctx.runner, workspaceId, ctx.env, timeoutMs), cachedIssues);
}

export function fetchMulticaAgents(ctx: GatherContext, workspaceId: string, timeoutMs: number, leaseMs: number): Promise<Cached<Checked<MulticaAgent>>> {
  return shared(ctx, multicaAgentsKey(workspaceId), 'config', leaseMs, () => multica.listAgents(ctx.runner, workspaceId, ctx.env, timeoutMs), cachedAgents);
}

export function fetchCards(ctx: GatherContext, board: string | undefined, timeoutMs: number, leaseMs: number): Promise<Cached<Checked<WorkboardCard>>> {
  return shared(ctx, cardsKey(board), 'workboard', leaseMs, () => workboard.listCards(ctx.runner, board, ctx.env, timeoutMs, ctx.workboardRead), cachedCards);
}

/** Warnings for the records a source skipped, one bounded line per list. */
function warningsOf(named: [string, Checked<unknown>][]): { warnings?: string[] } {
  const warnings = named.map(([name, checked]) => skippedWarning(name, checked)).filter((w): w is string => w !== undefined);
  return warnings.length > 0 ? { warnings } : {};
}

function stateOf(results: Cached<Checked<unknown>>[]): Pick<SourceReport, 'state' | 'detail' | 'ageMs'> {
  const stale = results.find((r) => r.from === 'stale');
  if (stale) return { state: 'stale', detail: `refresh failed (${stale.error}); using data ${formatDuration(stale.ageMs)} old`, ageMs: stale.ageMs };
  const truncated = results.find((r) => r.value.truncated);
  if (truncated) return { state: 'degraded', detail: truncated.value.truncated! };
  const oldest = Math.max(...results.map((r) => r.ageMs));
  return { state: 'ok', detail: oldest > 0 ? `cached ${formatDuration(oldest)} ago` : 'fetched now', ageMs: oldest };
}

async function guarded(source: SourceReport['source'], fn: () => Promise<SourceReport>): Promise<SourceReport> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SourceError) return { source, state: 'unavailable', detail: err.message, tasks: [], known: {} };
    throw err;
  }
}

export async function gatherMultica(ctx: GatherContext, agent: AgentSpec): Promise<SourceReport> {
  const spec = agent.multica;
  if (!spec) return { source: 'multica', state: 'not configured', detail: 'no multica.workspaceId in the roster', tasks: [], known: {} };
  return guarded('multica', async () => {
    const issues = await fetchIssues(ctx, spec.workspaceId, agent.sourceTimeoutMs, refreshLeaseMs(agent));
    const agents = spec.agentId ? undefined : await fetchMulticaAgents(ctx, spec.workspaceId, agent.sourceTimeoutMs, refreshLeaseMs(agent));
    const multicaId = multica.multicaAgentFor(agent.id, spec.agentId, agents?.value.items ?? []);
    const results: Cached<Checked<unknown>>[] = agents ? [issues, agents] : [issues];
    const report = stateOf(results);
    const warnings = warningsOf([['multica issues', issues.value], ...(agents ? [['multica agents', agents.value] as [string, Checked<unknown>]] : [])]);
    if (!multicaId)
      return { source: 'multica', state: report.state, detail: `no Multica agent matches "${agent.id}" by model or name`, tasks: [], known: {}, ...warnings };
    return { source: 'multica', ...report, tasks: multica.tasksForAgent(issues.value.items, multicaId), known: {}, ...warnings };
  });
}

export async function gatherWorkboard(ctx: GatherContext, agent: AgentSpec): Promise<SourceReport> {
  if (!agent.workboard) return { source: 'workboard', state: 'not configured', detail: 'workboard is off in the roster', tasks: [], known: {} };
  const board = agent.workboard.board;
  return guarded('workboard', async () => {
    const cards = await fetchCards(ctx, board, agent.sourceTimeoutMs, refreshLeaseMs(agent));
    return {
      source: 'workboard',
      ...stateOf([cards]),
      tasks: workboard.tasksForAgent(cards.value.items, agent.id),
      known: workboard.cardStatuses(cards.value.items),
      ...warningsOf([['workboard cards', cards.value]]),
    };
  });
}

export function gatherDocs(agent: AgentSpec): SourceReport {
  try {
    const docs = readDocs(agent.workspace, agent.docs);
    return { source: 'docs', state: 'ok', detail: 'read now', tasks: docs.tasks, known: {}, ...(docs.warnings.length ? { warnings: docs.warnings } : {}) };
  } catch (err) {
    return { source: 'docs', state: 'unavailable', detail: (err as Error).message, tasks: [], known: {} };
  }
}

export async function gatherAll(ctx: GatherContext, agent: AgentSpec): Promise<SourceReport[]> {
  const [m, w] = await Promise.all([gatherMultica(ctx, agent), gatherWorkboard(ctx, agent)]);
  return [w, m, gatherDocs(agent)];
}
