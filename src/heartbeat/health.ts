// Per-agent health for `claw status`: last run, next expected run, late / failing / running.
import { CronExpressionParser } from 'cron-parser';
import type { AgentSpec } from '../config/roster.js';
import type { RunRecord, Store } from '../store/types.js';
import type { AgentMemory } from './evaluate.js';
import { memoryKey, runLockName } from './keys.js';

export type Health = 'ok' | 'late' | 'running' | 'failing';

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
}

/** A run may start this long after its tick (splay, slow start) before the agent counts as late. */
const lateGraceMs = 2 * 60_000;

const ticks = new Map<string, { next: number; mustHaveRun: number }>();

/** Memoised: a fleet shares a few (schedule, tz, splay) combinations. */
export function scheduleTicks(agent: AgentSpec, now: number): { next: number; mustHaveRun: number } {
  const key = `${agent.schedule}\0${agent.tz}\0${agent.splayMs}\0${now}`;
  if (!ticks.has(key)) ticks.set(key, computeTicks(agent, now));
  return ticks.get(key)!;
}

function computeTicks(agent: AgentSpec, now: number): { next: number; mustHaveRun: number } {
  const next = CronExpressionParser.parse(agent.schedule, { tz: agent.tz, currentDate: new Date(now) }).next().getTime();
  const back = CronExpressionParser.parse(agent.schedule, { tz: agent.tz, currentDate: new Date(now) });
  let mustHaveRun = back.prev().getTime();
  // The latest tick may still be within its splay: then the one before it must have run.
  if (now - mustHaveRun < agent.splayMs + lateGraceMs) mustHaveRun = back.prev().getTime();
  return { next, mustHaveRun };
}

export async function agentHealth(store: Store, agents: AgentSpec[], now: number): Promise<AgentHealth[]> {
  const runs = await store.lastRuns(10);
  return Promise.all(
    agents.map(async (agent) => {
      const mine = runs.filter((r) => r.agent === agent.id);
      const last: RunRecord | undefined = mine.find((r) => r.outcome !== 'skipped');
      const memory = JSON.parse((await store.stateGet(memoryKey(agent.id))) ?? '{"tasks":{},"notified":{}}') as AgentMemory;
      const tasks = Object.values(memory.tasks);
      const stalled = tasks.filter((t) => t.stall);
      const { next, mustHaveRun } = scheduleTicks(agent, now);
      const running = (await store.leaseHolder(runLockName(agent.id))) !== undefined;
      let health: Health = 'ok';
      if (running) health = 'running';
      else if (last?.outcome === 'failed') health = 'failing';
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
      };
    }),
  );
}
