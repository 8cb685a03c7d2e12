// Collect an agent's tasks from the three sources; shared sources go through the shared cache.
import { cached, SourceError, type CachePolicy, type Cached } from '../cache/cache.js';
import { formatDuration } from '../duration.js';
import type { AgentSpec } from '../config/roster.js';
import type { Store } from '../store/types.js';
import * as multica from '../sources/multica.js';
import * as workboard from '../sources/workboard.js';
import { readDocTasks } from '../sources/docs.js';
import type { SourceReport } from '../sources/types.js';
import type { WorkboardRead } from '../sources/workboard-db.js';

export interface GatherContext {
  store: Store;
  policy: CachePolicy;
  env: NodeJS.ProcessEnv;
  owner: string;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Refresh shared sources even within their TTL (claw poll). */
  force?: boolean;
  /** The `workboard.read` config key: the plugin's database, the CLI, or auto (default). */
  workboardRead?: WorkboardRead | undefined;
}

function leaseFor(agent: AgentSpec): number {
  return agent.sourceTimeoutMs * 2 + 5000;
}

/** One shared source value through the shared cache (refreshed once for every process). */
function shared<T>(ctx: GatherContext, key: string, category: string, leaseMs: number, refresh: () => Promise<T>): Promise<Cached<T>> {
  return cached(ctx.store, { key, category, policy: ctx.policy, leaseMs, owner: ctx.owner, refresh, sleep: ctx.sleep, ...(ctx.force ? { force: true } : {}) });
}

export function fetchIssues(ctx: GatherContext, workspaceId: string, timeoutMs: number, leaseMs: number): Promise<Cached<multica.MulticaIssue[]>> {
  return shared(ctx, `multica:issues:${workspaceId}`, 'multica', leaseMs, () => multica.listIssues(workspaceId, ctx.env, timeoutMs));
}

export function fetchMulticaAgents(ctx: GatherContext, workspaceId: string, timeoutMs: number, leaseMs: number): Promise<Cached<multica.MulticaAgent[]>> {
  return shared(ctx, `multica:agents:${workspaceId}`, 'config', leaseMs, () => multica.listAgents(workspaceId, ctx.env, timeoutMs));
}

export function fetchCards(ctx: GatherContext, board: string | undefined, timeoutMs: number, leaseMs: number): Promise<Cached<workboard.WorkboardCard[]>> {
  return shared(ctx, `workboard:cards:${board ?? 'default'}`, 'workboard', leaseMs, () => workboard.listCards(board, ctx.env, timeoutMs, ctx.workboardRead));
}

function stateOf(results: Cached<unknown>[]): Pick<SourceReport, 'state' | 'detail'> {
  const stale = results.find((r) => r.from === 'stale');
  if (stale) return { state: 'stale', detail: `refresh failed (${stale.error}); using data ${formatDuration(stale.ageMs)} old` };
  const oldest = Math.max(...results.map((r) => r.ageMs));
  return { state: 'ok', detail: oldest > 0 ? `cached ${formatDuration(oldest)} ago` : 'fetched now' };
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
    const issues = await fetchIssues(ctx, spec.workspaceId, agent.sourceTimeoutMs, leaseFor(agent));
    const agents = spec.agentId ? undefined : await fetchMulticaAgents(ctx, spec.workspaceId, agent.sourceTimeoutMs, leaseFor(agent));
    const multicaId = multica.multicaAgentFor(agent.id, spec.agentId, agents?.value ?? []);
    const results: Cached<unknown>[] = agents ? [issues, agents] : [issues];
    const report = stateOf(results);
    if (!multicaId) return { source: 'multica', state: report.state, detail: `no Multica agent matches "${agent.id}" by model or name`, tasks: [], known: {} };
    return { source: 'multica', ...report, tasks: multica.tasksForAgent(issues.value, multicaId), known: {} };
  });
}

export async function gatherWorkboard(ctx: GatherContext, agent: AgentSpec): Promise<SourceReport> {
  if (!agent.workboard) return { source: 'workboard', state: 'not configured', detail: 'workboard is off in the roster', tasks: [], known: {} };
  const board = agent.workboard.board;
  return guarded('workboard', async () => {
    const cards = await fetchCards(ctx, board, agent.sourceTimeoutMs, leaseFor(agent));
    return { source: 'workboard', ...stateOf([cards]), tasks: workboard.tasksForAgent(cards.value, agent.id), known: workboard.cardStatuses(cards.value) };
  });
}

export function gatherDocs(agent: AgentSpec): SourceReport {
  try {
    return { source: 'docs', state: 'ok', detail: 'read now', tasks: readDocTasks(agent.workspace, agent.docs), known: {} };
  } catch (err) {
    return { source: 'docs', state: 'unavailable', detail: (err as Error).message, tasks: [], known: {} };
  }
}

export async function gatherAll(ctx: GatherContext, agent: AgentSpec): Promise<SourceReport[]> {
  const [m, w] = await Promise.all([gatherMultica(ctx, agent), gatherWorkboard(ctx, agent)]);
  return [w, m, gatherDocs(agent)];
}
