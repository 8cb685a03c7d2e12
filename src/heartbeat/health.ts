// Per-agent health for `claw status`: last run, next expected run, new / late / failing / running.
import { ticksNear, type ScheduleBook } from '../cron/schedule-book.js';
import type { AgentSpec } from '../config/roster.js';
import type { LeaseStore, RunRecord, RunStore, StateStore } from '../store/types.js';
import { parseMemory } from './memory.js';
import { dispatchKey, memoryKey, runLockName } from './keys.js';

/** `new`: never run, and no tick has come due since claw first saw the agent in the roster. */
export type Health = 'ok' | 'new' | 'late' | 'running' | 'failing';

/** When status first saw each agent of the roster, so a fresh install is `new` rather than late, and not forever. */
const firstSeenKey = 'agents-first-seen';

export interface AgentHealth {
  agent: string;
  /** The gateway of the agent's model (set by status). */
  gateway?: string;
  schedule: string;
  tz: string;
  lastRun: { startedAt: string; endedAt: string; outcome: string; error?: string } | null;
  nextRunAt: string;
  health: Health;
  pending: number;
  stalled: number;
  paused: number;
  /** Longest time an in-progress task has gone without progress, past stallAfter. */
  stagnationSeconds: number;
  /** Escalations that reached no one yet: a notify that failed (retried on later runs, up to a bound) or no notify template. */
  unsent: { condition: string; since: string; attempts: number; error?: string; message?: string }[];
}

/** A run may start this long after its tick (splay, slow start) before the agent counts as late. */
const lateGraceMs = 2 * 60_000;

/** The next run, and the latest tick that must have started a run by now (the one before the latest while it is within splay and grace). */
export async function scheduleTicks(agent: AgentSpec, now: number, book: ScheduleBook): Promise<{ next: number; mustHaveRun: number }> {
  const { next, latest, before } = await ticksNear(book, agent.schedule, agent.tz, now);
  return { next, mustHaveRun: now - latest < agent.splayMs + lateGraceMs ? before : latest };
}

export async function agentHealth(store: RunStore & LeaseStore & StateStore, agents: AgentSpec[], now: number, book: ScheduleBook): Promise<AgentHealth[]> {
  const runs = await store.lastRuns(10);
  const firstSeen = JSON.parse((await store.stateGet(firstSeenKey)) ?? '{}') as Record<string, number>;
  const unseen = agents.filter((a) => firstSeen[a.id] === undefined && !runs.some((r) => r.agent === a.id));
  if (unseen.length > 0) {
    for (const agent of unseen) firstSeen[agent.id] = now;
    await store.stateSet(firstSeenKey, JSON.stringify(firstSeen));
  }
  // Every agent's memory, recorded dispatch and lock in three reads, not three per agent.
  const [memories, dispatches, locks] = await Promise.all([
    store.stateGetMany(agents.map((a) => memoryKey(a.id))),
    store.stateGetMany(agents.map((a) => dispatchKey(a.id))),
    store.leaseHolders(agents.map((a) => runLockName(a.id))),
  ]);
  return Promise.all(
    agents.map(async (agent, i) => {
      const mine = runs.filter((r) => r.agent === agent.id);
      const last: RunRecord | undefined = mine.find((r) => r.outcome !== 'skipped');
      const memory = parseMemory(memories[i]);
      const tasks = Object.values(memory.tasks);
      const stalled = tasks.filter((t) => t.stall);
      const { next, mustHaveRun } = await scheduleTicks(agent, now, book);
      // Its lock is held, or a dispatch its run left behind (a heartbeat killed mid-dispatch) is recorded.
      const running = locks[i] !== undefined || Boolean(dispatches[i]);
      let health: Health = 'ok';
      if (running) health = 'running';
      else if (last?.outcome === 'failed') health = 'failing';
      else if (mine.length === 0 && mustHaveRun <= (firstSeen[agent.id] ?? now)) health = 'new';
      else if (!last || last.startedAt < mustHaveRun - 60_000) health = 'late';
      const detail = (last?.detail ?? {}) as { counts?: { claimable?: number }; error?: string };
      return {
        agent: agent.id,
        schedule: agent.schedule,
        tz: agent.tz,
        lastRun: last
          ? {
              startedAt: new Date(last.startedAt).toISOString(),
              endedAt: new Date(last.endedAt).toISOString(),
              outcome: last.outcome,
              ...(detail.error ? { error: detail.error } : {}),
            }
          : null,
        nextRunAt: new Date(next).toISOString(),
        health,
        pending: detail.counts?.claimable ?? 0,
        stalled: stalled.length,
        paused: tasks.filter((t) => t.paused).length,
        stagnationSeconds: Math.max(0, ...stalled.map((t) => Math.round((now - (t.stallMark ?? now)) / 1000))),
        unsent: Object.entries(memory.notified ?? {})
          .filter(([, e]) => e.sent === false)
          .map(([condition, e]) => ({
            condition,
            since: new Date(e.at).toISOString(),
            attempts: e.attempts ?? 0,
            ...(e.error ? { error: e.error } : {}),
            ...(e.message ? { message: e.message } : {}),
          })),
      };
    }),
  );
}
