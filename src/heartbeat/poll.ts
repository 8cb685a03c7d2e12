// The coordinated poll: refresh every shared source for the whole fleet now, then count per agent.
import { cachePolicy, type Cached } from '../cache/cache.js';
import { SourceError } from '../errors.js';
import type { ClawConfig } from '../config/config.js';
import type { Roster } from '../config/roster.js';
import type { StateStore } from '../store/types.js';
import type { CacheBackend } from '../cache/cache.js';
import type { ProcessRunner } from '../process/runner.js';
import { evaluate } from './evaluate.js';
import { readMemory } from './memory.js';
import { cardsKey, refreshLeaseMs, fetchCards, fetchIssues, fetchMulticaAgents, gatherAll, issuesKey, multicaAgentsKey, type GatherContext } from './gather.js';
import { leaseOwner } from '../lease.js';
import { skippedWarning, type Checked } from '../sources/validate.js';

export interface PollReport {
  refreshed: { key: string; state: 'fresh' | 'degraded' | 'stale' | 'unavailable'; detail?: string; items?: number; warning?: string }[];
  agents: {
    agent: string;
    claimable: number;
    blocked: number;
    inProgress: number;
    paused: number;
    /** Per source: ok, stale (the refresh failed; the last good value was used), degraded, unavailable or not configured. */
    sources: Record<string, string>;
    /** Why a source is not ok. */
    details: Record<string, string>;
    /** For each stale source, how old the value used is. */
    staleSeconds: Record<string, number>;
  }[];
}

async function refresh(key: string, pending: Promise<Cached<Checked<unknown>>>): Promise<PollReport['refreshed'][number]> {
  try {
    const result = await pending;
    const items = result.value.items.length;
    const warning = skippedWarning(key, result.value);
    const extra = warning ? { warning } : {};
    if (result.from === 'stale') return { key, state: 'stale', detail: result.error!, items, ...extra };
    if (result.value.truncated) return { key, state: 'degraded', detail: result.value.truncated, items, ...extra };
    return { key, state: 'fresh', items, ...extra };
  } catch (err) {
    if (err instanceof SourceError) return { key, state: 'unavailable', detail: err.message };
    throw err;
  }
}

export async function pollFleet(
  roster: Roster,
  deps: {
    store: StateStore & CacheBackend;
    config: ClawConfig;
    env: NodeJS.ProcessEnv;
    runner: ProcessRunner;
    clock: () => number;
    sleep: (ms: number) => Promise<void>;
  },
): Promise<PollReport> {
  const base: GatherContext = {
    store: deps.store,
    policy: cachePolicy(deps.config),
    env: deps.env,
    runner: deps.runner,
    owner: leaseOwner(),
    clock: deps.clock,
    sleep: deps.sleep,
    workboardRead: deps.config.workboard?.read,
  };
  const forced = { ...base, force: true };
  // Each shared value is fetched once here; the per-agent counts below use these very results, so
  // an agent whose source was served stale says stale, not ok.
  const fetched = new Map<string, Promise<Cached<unknown>>>();
  const once = (key: string, run: () => Promise<Cached<unknown>>) => {
    if (!fetched.has(key)) fetched.set(key, run());
  };
  for (const agent of roster.agents) {
    const ws = agent.multica?.workspaceId;
    if (ws) {
      once(issuesKey(ws), () => fetchIssues(forced, ws, agent.sourceTimeoutMs, refreshLeaseMs(agent)));
      // The agent list changes rarely: it keeps its own TTL (config, 1 h) even in a poll.
      once(multicaAgentsKey(ws), () => fetchMulticaAgents(base, ws, agent.sourceTimeoutMs, refreshLeaseMs(agent)));
    }
    if (agent.workboard) {
      const board = agent.workboard.board;
      once(cardsKey(board), () => fetchCards(forced, board, agent.sourceTimeoutMs, refreshLeaseMs(agent)));
    }
  }
  // Rejections are reported through refresh() below; the copies in the map must not go unhandled.
  for (const pending of fetched.values()) pending.catch(() => undefined);
  const refreshed = await Promise.all([...fetched].map(([key, pending]) => refresh(key, pending as Promise<Cached<Checked<unknown>>>)));
  const agents: PollReport['agents'] = [];
  for (const agent of roster.agents) {
    const sources = await gatherAll({ ...base, fetched }, agent);
    const e = evaluate(
      sources.flatMap((s) => s.tasks),
      await readMemory(deps.store, agent.id),
      {
        now: deps.clock(),
        stallAfterMs: agent.stallAfterMs,
        known: Object.fromEntries(sources.map((s) => [s.source, s.known])),
      },
    );
    agents.push({
      agent: agent.id,
      claimable: e.claimable.length,
      blocked: e.blocked.length,
      inProgress: e.inProgress.length,
      paused: e.paused.length,
      sources: Object.fromEntries(sources.map((s) => [s.source, s.state])),
      details: Object.fromEntries(sources.filter((s) => s.state !== 'ok' && s.detail).map((s) => [s.source, s.detail!])),
      staleSeconds: Object.fromEntries(sources.filter((s) => s.state === 'stale').map((s) => [s.source, Math.round((s.ageMs ?? 0) / 1000)])),
    });
  }
  return { refreshed, agents };
}
