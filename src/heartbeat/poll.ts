// The coordinated poll: refresh every shared source for the whole fleet now, then count per agent.
import { cachePolicy, SourceError, type Cached } from '../cache/cache.js';
import type { ClawConfig } from '../config/config.js';
import type { AgentSpec, Roster } from '../config/roster.js';
import type { Store } from '../store/types.js';
import { emptyMemory, evaluate, type AgentMemory } from './evaluate.js';
import { fetchCards, fetchIssues, fetchMulticaAgents, gatherAll, type GatherContext } from './gather.js';
import { memoryKey } from './keys.js';
import { leaseOwner } from '../lease.js';

export interface PollReport {
  refreshed: { key: string; state: 'fresh' | 'stale' | 'unavailable'; detail?: string; items?: number }[];
  agents: { agent: string; claimable: number; blocked: number; inProgress: number; paused: number; sources: Record<string, string> }[];
}

async function refresh(key: string, run: () => Promise<Cached<unknown[]>>): Promise<PollReport['refreshed'][number]> {
  try {
    const result = await run();
    return result.from === 'stale'
      ? { key, state: 'stale', detail: result.error!, items: result.value.length }
      : { key, state: 'fresh', items: result.value.length };
  } catch (err) {
    if (err instanceof SourceError) return { key, state: 'unavailable', detail: err.message };
    throw err;
  }
}

export async function pollFleet(roster: Roster, deps: { store: Store; config: ClawConfig; env: NodeJS.ProcessEnv; clock: () => number; sleep: (ms: number) => Promise<void> }): Promise<PollReport> {
  const base: GatherContext = {
    store: deps.store,
    policy: cachePolicy(deps.config),
    env: deps.env,
    owner: leaseOwner(),
    clock: deps.clock,
    sleep: deps.sleep,
    workboardRead: deps.config.workboard?.read,
  };
  const forced = { ...base, force: true };
  const jobs = new Map<string, () => Promise<PollReport['refreshed'][number]>>();
  const lease = (a: AgentSpec) => a.sourceTimeoutMs * 2 + 5000;
  for (const agent of roster.agents) {
    const ws = agent.multica?.workspaceId;
    if (ws) {
      jobs.set(`multica:issues:${ws}`, () => refresh(`multica:issues:${ws}`, () => fetchIssues(forced, ws, agent.sourceTimeoutMs, lease(agent))));
      // The agent list changes rarely: it keeps its own TTL (config, 1 h) even in a poll.
      jobs.set(`multica:agents:${ws}`, () => refresh(`multica:agents:${ws}`, () => fetchMulticaAgents(base, ws, agent.sourceTimeoutMs, lease(agent))));
    }
    if (agent.workboard) {
      const board = agent.workboard.board;
      const key = `workboard:cards:${board ?? 'default'}`;
      jobs.set(key, () => refresh(key, () => fetchCards(forced, board, agent.sourceTimeoutMs, lease(agent))));
    }
  }
  const refreshed = await Promise.all([...jobs.values()].map((job) => job()));
  const agents: PollReport['agents'] = [];
  for (const agent of roster.agents) {
    const sources = await gatherAll(base, agent);
    const stored = await deps.store.stateGet(memoryKey(agent.id));
    const memory: AgentMemory = stored ? (JSON.parse(stored) as AgentMemory) : emptyMemory();
    const e = evaluate(sources.flatMap((s) => s.tasks), memory, {
      now: deps.clock(),
      stallAfterMs: agent.stallAfterMs,
      known: Object.fromEntries(sources.map((s) => [s.source, s.known])),
    });
    agents.push({
      agent: agent.id,
      claimable: e.claimable.length,
      blocked: e.blocked.length,
      inProgress: e.inProgress.length,
      paused: e.paused.length,
      sources: Object.fromEntries(sources.map((s) => [s.source, s.state])),
    });
  }
  return { refreshed, agents };
}
