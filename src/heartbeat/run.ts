// One heartbeat of one agent, in order: lock, splay, gather the three sources, evaluate, decide,
// dispatch (dispatch.ts), count rounds (evaluate.ts), escalate (escalate.ts), record (report.ts).
import { hostname } from 'node:os';
import { priorityName } from '../priority.js';
import { knownSecrets } from '../config/config.js';
import { redactDeep, redactSecrets } from '../redact.js';
import type { AgentSpec } from '../config/roster.js';
import { cachePolicy } from '../cache/cache.js';
import { resolveGateway } from '../limiter/gateways.js';
import type { SourceReport } from '../sources/types.js';
import { countRounds, dispatchPriority, evaluate } from './evaluate.js';
import { gatherAll } from './gather.js';
import { runLockName } from './keys.js';
import { readMemory, writeMemory } from './memory.js';
import { dispatch, dispatchMessage, earlierDispatch, fillTemplate, innerTimeoutSeconds } from './dispatch.js';
import { escalate } from './escalate.js';
import { evaluationReport, recordRun } from './report.js';
import type { HeartbeatDeps, HeartbeatReport } from './types.js';
import { leaseOwner, takeLease } from '../lease.js';
import { quotaBlock } from '../proxy/blocks.js';

const maxTasksInMessage = 20;
const lockTtlMs = 60_000;

/** A deterministic delay so 15 agents on one host do not all fire in the same second. */
export function splayDelay(host: string, agent: string, splayMs: number): number {
  if (splayMs <= 0) return 0;
  let hash = 0x811c9dc5;
  for (const ch of `${host}\0${agent}`) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % splayMs;
}

export async function runHeartbeat(agent: AgentSpec, deps: HeartbeatDeps): Promise<HeartbeatReport> {
  const { store } = deps;
  const host = hostname();
  const owner = leaseOwner();
  const startedAt = deps.clock();
  const base = {
    agent: agent.id,
    dryRun: deps.dryRun,
    startedAt: new Date(startedAt).toISOString(),
    splayMs: 0,
    sources: [],
    counts: { claimable: 0, blocked: 0, inProgress: 0, suspected: 0, confirmed: 0, paused: 0 },
    claimable: [],
    recover: [],
    blocked: [],
    stalled: [],
    paused: [],
    notifications: [],
    warnings: [],
  };

  if (!deps.dryRun) {
    const lock = await takeLease(store, runLockName(agent.id), owner, lockTtlMs);
    if (!lock.ok) {
      const report: HeartbeatReport = {
        ...base,
        outcome: 'skipped',
        endedAt: new Date(deps.clock()).toISOString(),
        error: `an earlier run (${lock.holder}) is still running`,
      };
      await recordRun(store, report, startedAt, deps.clock());
      return report;
    }
  }
  const renew = deps.dryRun
    ? undefined
    : setInterval(() => void store.acquireLease(runLockName(agent.id), owner, lockTtlMs).catch(() => undefined), lockTtlMs / 3);
  renew?.unref();
  const lock = { lease: runLockName(agent.id), owner };
  let released = false;
  // The run is over: its record and letting go of its lock are one write.
  const finish = async (report: HeartbeatReport) => {
    if (renew) clearInterval(renew);
    if (deps.dryRun) return;
    await recordRun(store, report, startedAt, deps.clock(), lock);
    released = true;
  };
  try {
    // A dispatch outlives a heartbeat killed with -9 (its own process group): never start a second beside it.
    const earlier = await earlierDispatch(agent, deps, host);
    if (earlier.running) {
      const report: HeartbeatReport = { ...base, outcome: 'skipped', endedAt: new Date(deps.clock()).toISOString(), error: earlier.running };
      await finish(report);
      return report;
    }
    // No secret (a key a task title or a source carried) is shown, stored or sent from here on.
    const report = redactDeep(await check(agent, deps, { ...base, warnings: earlier.warning ? [earlier.warning] : [] }, owner, host), knownSecrets(deps.env));
    await finish(report);
    return report;
  } finally {
    if (renew) clearInterval(renew);
    if (!deps.dryRun && !released) await store.releaseLease(lock.lease, owner);
  }
}

async function check(
  agent: AgentSpec,
  deps: HeartbeatDeps,
  base: Omit<HeartbeatReport, 'outcome' | 'endedAt'>,
  owner: string,
  host: string,
): Promise<HeartbeatReport> {
  const { store } = deps;
  const splayMs = deps.splay && !deps.dryRun ? splayDelay(host, agent.id, agent.splayMs) : 0;
  if (splayMs > 0) await deps.sleep(splayMs);

  const sources: SourceReport[] = await gatherAll(
    {
      store,
      policy: cachePolicy(deps.config),
      env: deps.env,
      runner: deps.runner,
      owner,
      clock: deps.clock,
      sleep: deps.sleep,
      workboardRead: deps.config.workboard?.read,
    },
    agent,
  );
  const now = deps.clock();
  const previous = await readMemory(store, agent.id);
  const before = JSON.stringify(previous);
  const evaluation = evaluate(
    sources.flatMap((s) => s.tasks),
    previous,
    { now, stallAfterMs: agent.stallAfterMs, known: Object.fromEntries(sources.map((s) => [s.source, s.known])) },
  );
  const degraded = sources.some((s) => s.state === 'unavailable' || s.state === 'stale' || s.state === 'degraded');
  const report = evaluationReport(base, sources, evaluation, splayMs, degraded);

  const recoverKeys = new Set(evaluation.recover.map((v) => v.key));
  const todo = evaluation.claimable.slice(0, maxTasksInMessage);
  const recover = evaluation.recover.slice(0, Math.max(0, maxTasksInMessage - todo.length));
  const named = [...recover, ...todo.filter((v) => !recoverKeys.has(v.key))];
  if (named.length > 0) {
    const priority = dispatchPriority(agent.priority, named);
    const gateway = resolveGateway(deps.config, { model: agent.model });
    const message = redactSecrets(dispatchMessage(agent, todo, recover, now), knownSecrets(deps.env));
    const argv = fillTemplate(agent.dispatch, { agent: agent.id, message, model: agent.model, timeout: String(innerTimeoutSeconds(agent.timeoutMs)) });
    report.dispatch = { argv, gateway: gateway.name, model: agent.model, priority: priorityName(priority), tasks: named.map((v) => v.key) };
    const block = deps.dryRun ? undefined : await quotaBlock(store, gateway);
    if (block) {
      // A spent quota: no turn (it would fail), no round counted; one escalation per block.
      const until = new Date(block.until).toISOString();
      report.quota = { gateway: gateway.name, until, ...(block.message ? { message: block.message } : {}) };
      report.outcome = 'deferred';
      report.error = `not dispatched: gateway ${gateway.name} is blocked until ${until} (quota spent${block.message ? `: ${block.message}` : ''})`;
      delete report.dispatch;
    } else if (!deps.dryRun) {
      const started = await dispatch(agent, deps, report, gateway, priority, message);
      if (started) report.warnings.push(...countRounds(evaluation, named, agent));
      if (report.outcome !== 'failed' && !degraded) report.outcome = 'dispatched';
    } else if (!degraded) {
      report.outcome = 'dispatched';
    }
  }
  if (!deps.dryRun) {
    await escalate(agent, deps, report, evaluation);
    await writeMemory(store, agent.id, evaluation.memory, before);
  }
  report.endedAt = new Date(deps.clock()).toISOString();
  return report;
}
