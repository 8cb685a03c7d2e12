// One heartbeat of one agent: lock, splay, check the three sources, decide, dispatch, escalate, record.
import { hostname } from 'node:os';
import { ClawError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { priorityName } from '../priority.js';
import { runProcess, describeFailure } from '../proc.js';
import type { ClawConfig } from '../config/config.js';
import type { AgentSpec } from '../config/roster.js';
import { cachePolicy } from '../cache/cache.js';
import { resolveGateway, type Gateway } from '../limiter/gateways.js';
import { admitCall, defaultMaxWait, fallbackFor, startWindow } from '../limiter/limiter.js';
import type { Store } from '../store/types.js';
import type { SourceReport, Task } from '../sources/types.js';
import { dispatchPriority, emptyMemory, evaluate, type AgentMemory, type Evaluation, type TaskView } from './evaluate.js';
import { gatherAll } from './gather.js';
import { memoryKey, runLockName } from './keys.js';
import { leaseOwner, takeLease } from '../lease.js';
import { gatewayConfigs } from '../config/config.js';
import { quotaBlock } from '../proxy/blocks.js';

export type Outcome = 'idle' | 'dispatched' | 'skipped' | 'degraded' | 'failed' | 'deferred';

export interface HeartbeatDeps {
  store: Store;
  config: ClawConfig;
  env: NodeJS.ProcessEnv;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Whether to wait the agent's splay first (cron runs yes; a TTY or --no-splay no). */
  splay: boolean;
  dryRun: boolean;
}

interface TaskLine {
  key: string;
  source: Task['source'];
  id: string;
  title: string;
  priority: string;
  rounds: number;
}

export interface DispatchReport {
  argv: string[];
  gateway: string;
  model: string;
  priority: string;
  tasks: string[];
  exitCode?: number | null;
  transport?: string;
  error?: string;
}

export interface HeartbeatReport {
  agent: string;
  outcome: Outcome;
  dryRun: boolean;
  startedAt: string;
  endedAt: string;
  splayMs: number;
  sources: { source: string; state: string; detail?: string; tasks: number }[];
  counts: { claimable: number; blocked: number; inProgress: number; suspected: number; confirmed: number; paused: number };
  claimable: TaskLine[];
  recover: TaskLine[];
  blocked: (TaskLine & { waitingOn: string[] })[];
  stalled: (TaskLine & { stall: string; stalledFor: string })[];
  paused: TaskLine[];
  dispatch?: DispatchReport;
  /** Set when the dispatch was deferred: the agent's gateway has spent its quota. */
  quota?: { gateway: string; until: string; message?: string };
  notifications: { condition: string; sent: boolean; error?: string }[];
  warnings: string[];
  error?: string;
}

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

function line(view: TaskView): TaskLine {
  return { key: view.key, source: view.task.source, id: view.task.id, title: view.task.title, priority: view.task.priority, rounds: view.rounds };
}

export function dispatchMessage(agent: AgentSpec, todo: TaskView[], recover: TaskView[], now: number): string {
  const item = (v: TaskView) => `- [${v.task.source} ${v.task.id}] ${v.task.title} (${v.task.priority})`;
  const parts = [`claw heartbeat for ${agent.id} at ${new Date(now).toISOString()}: ${todo.length} task(s) to do, ${recover.length} to recover.`];
  if (todo.length) parts.push('To do (dependencies met; claim one before starting it):', ...todo.map(item));
  if (recover.length) parts.push(`Recover (in progress, no progress for over ${formatDuration(agent.stallAfterMs)}):`, ...recover.map(item));
  parts.push('Update each task in its source as you go; mark it done when finished.');
  return parts.join('\n');
}

export function fillTemplate(template: string[], values: Record<string, string>): string[] {
  return template.map((arg) => arg.replace(/\{(agent|message|model)\}/g, (_, name: string) => values[name] ?? ''));
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
      const report: HeartbeatReport = { ...base, outcome: 'skipped', endedAt: new Date(deps.clock()).toISOString(), error: `an earlier run (${lock.holder}) is still running` };
      await record(store, report, startedAt, deps.clock());
      return report;
    }
  }
  const renew = deps.dryRun ? undefined : setInterval(() => void store.acquireLease(runLockName(agent.id), owner, lockTtlMs).catch(() => undefined), lockTtlMs / 3);
  renew?.unref();
  try {
    const report = await check(agent, deps, base, owner, host);
    if (!deps.dryRun) await record(store, report, startedAt, deps.clock());
    return report;
  } finally {
    if (renew) clearInterval(renew);
    if (!deps.dryRun) await store.releaseLease(runLockName(agent.id), owner);
  }
}

async function record(store: Store, report: HeartbeatReport, startedAt: number, endedAt: number): Promise<void> {
  await store.saveRun({
    agent: report.agent,
    startedAt,
    endedAt,
    outcome: report.outcome,
    detail: {
      sources: report.sources,
      counts: report.counts,
      dispatched: report.dispatch?.exitCode !== undefined ? report.dispatch.tasks : [],
      ...(report.error ? { error: report.error } : {}),
    },
  });
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
    { store, policy: cachePolicy(deps.config), env: deps.env, owner, clock: deps.clock, sleep: deps.sleep },
    agent,
  );
  const now = deps.clock();
  const tasks = sources.flatMap((s) => s.tasks);
  const stored = await store.stateGet(memoryKey(agent.id));
  const memory: AgentMemory = stored ? (JSON.parse(stored) as AgentMemory) : emptyMemory();
  const evaluation = evaluate(tasks, memory, {
    now,
    stallAfterMs: agent.stallAfterMs,
    known: Object.fromEntries(sources.map((s) => [s.source, s.known])),
  });
  const degraded = sources.some((s) => s.state === 'unavailable' || s.state === 'stale');
  const report: HeartbeatReport = {
    ...base,
    splayMs,
    outcome: degraded ? 'degraded' : 'idle',
    endedAt: '',
    sources: sources.map((s) => ({ source: s.source, state: s.state, ...(s.detail ? { detail: s.detail } : {}), tasks: s.tasks.length })),
    counts: countsOf(evaluation),
    claimable: evaluation.claimable.map(line),
    recover: evaluation.recover.map(line),
    blocked: evaluation.blocked.map((b) => ({ ...line(b), waitingOn: b.waitingOn })),
    stalled: evaluation.stalled.map((s) => ({ ...line(s), stall: s.stall, stalledFor: formatDuration(s.stalledForMs) })),
    paused: evaluation.paused.map(line),
  };

  const recoverKeys = new Set(evaluation.recover.map((v) => v.key));
  const todo = evaluation.claimable.slice(0, maxTasksInMessage);
  const recover = evaluation.recover.slice(0, Math.max(0, maxTasksInMessage - todo.length));
  const named = [...recover, ...todo.filter((v) => !recoverKeys.has(v.key))];
  if (named.length > 0) {
    const priority = dispatchPriority(agent.priority, named);
    const gateway = resolveGateway(deps.config, { model: agent.model });
    const message = dispatchMessage(agent, todo, recover, now);
    const argv = fillTemplate(agent.dispatch, { agent: agent.id, message, model: agent.model });
    report.dispatch = { argv, gateway: gateway.name, model: agent.model, priority: priorityName(priority), tasks: named.map((v) => v.key) };
    const block = deps.dryRun ? undefined : await quotaBlock(store, gateway, deps.clock);
    if (block) {
      // A spent quota: no turn (it would fail), no round counted; one escalation per block.
      const until = new Date(block.until).toISOString();
      report.quota = { gateway: gateway.name, until, ...(block.message ? { message: block.message } : {}) };
      report.outcome = 'deferred';
      report.error = `not dispatched: gateway ${gateway.name} is blocked until ${until} (quota spent${block.message ? `: ${block.message}` : ''})`;
      delete report.dispatch;
    } else if (!deps.dryRun) {
      await dispatch(agent, deps, report, gateway, named, priority, message, evaluation);
      if (report.outcome !== 'failed' && !degraded) report.outcome = 'dispatched';
    } else if (!degraded) {
      report.outcome = 'dispatched';
    }
  }
  if (!deps.dryRun) {
    await escalate(agent, deps, report, evaluation);
    await store.stateSet(memoryKey(agent.id), JSON.stringify(evaluation.memory));
  }
  report.endedAt = new Date(deps.clock()).toISOString();
  return report;
}

function countsOf(e: Evaluation): HeartbeatReport['counts'] {
  return {
    claimable: e.claimable.length,
    blocked: e.blocked.length,
    inProgress: e.inProgress.length,
    suspected: e.stalled.filter((s) => s.stall === 'suspected').length,
    confirmed: e.stalled.filter((s) => s.stall === 'confirmed').length,
    paused: e.paused.length,
  };
}

async function dispatch(
  agent: AgentSpec,
  deps: HeartbeatDeps,
  report: HeartbeatReport,
  gateway: Gateway,
  named: TaskView[],
  priority: 1 | 2 | 3 | 4,
  message: string,
  evaluation: Evaluation,
): Promise<void> {
  const { store } = deps;
  const planned = report.dispatch!;
  const fallback = fallbackFor(deps.config, agent.fallbackModel);
  try {
    const maxWaitMs = defaultMaxWait(priority);
    // A proxied gateway admits each of the turn's model requests in `claw proxy`: the dispatch takes no slot of its own.
    const proxied = gatewayConfigs(deps.config)[gateway.name]?.proxied === true;
    const admission = proxied ? { gateway, model: agent.model, fellBack: false, waitedMs: 0 } : await admitCall(store, {
      gateway,
      priority,
      model: agent.model,
      ...(fallback ? { fallback } : {}),
      ...(maxWaitMs !== undefined ? { maxWaitMs } : {}),
      clock: deps.clock,
      sleep: deps.sleep,
    });
    const model = admission.model ?? agent.model;
    planned.model = model;
    planned.gateway = admission.gateway.name;
    planned.argv = fillTemplate(agent.dispatch, { agent: agent.id, message, model });
    let sent: Promise<void> | undefined;
    const result = await runProcess(planned.argv, {
      env: { ...deps.env, CLAW_AGENT: agent.id, CLAW_MODEL: model, CLAW_GATEWAY: admission.gateway.name },
      cwd: agent.workspace,
      timeoutMs: agent.timeoutMs,
      onSpawn: () => {
        sent = startWindow(store, admission);
      },
    });
    await sent;
    planned.exitCode = result.code;
    const transport = /"transport"\s*:\s*"(\w+)"/.exec(result.stdout)?.[1];
    if (transport) planned.transport = transport;
    if (transport === 'embedded') report.warnings.push('openclaw ran the turn embedded (the gateway was not reachable)');
    if (result.spawnError || result.timedOut || result.code !== 0) planned.error = describeFailure(planned.argv[0]!, result, agent.timeoutMs);
  } catch (err) {
    if (!(err instanceof ClawError)) throw err;
    planned.error = err.message;
    planned.exitCode = null;
  }
  // Every dispatch that names a task counts as a round for it, whatever came of it.
  for (const view of named) {
    const mem = evaluation.memory.tasks[view.key]!;
    mem.rounds += 1;
    if (evaluation.recover.some((r) => r.key === view.key)) mem.recoveredMark = view.task.updatedAt;
    if (mem.rounds >= agent.maxRounds) {
      mem.paused = true;
      report.warnings.push(`${view.key} reached ${agent.maxRounds} rounds and is paused`);
    } else if (mem.rounds >= Math.ceil(agent.warnAt * agent.maxRounds) && !mem.warned) {
      mem.warned = true;
      report.warnings.push(`${view.key} has had ${mem.rounds} of ${agent.maxRounds} rounds`);
    }
  }
  if (planned.error) {
    report.outcome = 'failed';
    report.error = `dispatch failed: ${planned.error}`;
  }
}

/** Confirmed stalls, paused tasks and failed dispatches go to the notify template, once per condition. */
async function escalate(agent: AgentSpec, deps: HeartbeatDeps, report: HeartbeatReport, evaluation: Evaluation): Promise<void> {
  const notified = evaluation.memory.notified;
  const conditions: { condition: string; task?: string; message: string }[] = [];
  for (const s of evaluation.stalled) {
    if (s.stall !== 'confirmed') continue;
    conditions.push({
      condition: `stall:${s.key}:${s.task.updatedAt}`,
      task: s.key,
      message: `${agent.id}: ${s.key} "${s.task.title}" has made no progress for ${formatDuration(s.stalledForMs)}; a recovery was dispatched`,
    });
  }
  for (const [key, mem] of Object.entries(evaluation.memory.tasks)) {
    if (!mem.paused) continue;
    const task = [...evaluation.claimable, ...evaluation.paused, ...evaluation.inProgress].find((v) => v.key === key)?.task;
    conditions.push({
      condition: `paused:${key}`,
      task: key,
      message: `${agent.id}: ${key}${task ? ` "${task.title}"` : ''} reached ${agent.maxRounds} rounds and is paused; it will not be dispatched again`,
    });
  }
  if (report.outcome === 'failed' && report.dispatch?.error) {
    conditions.push({ condition: 'dispatch-failed', message: `${agent.id}: heartbeat dispatch failed: ${report.dispatch.error}` });
  } else {
    delete notified['dispatch-failed'];
  }
  if (report.quota) conditions.push({ condition: `quota:${report.quota.gateway}:${report.quota.until}`, message: `${agent.id}: ${report.error}` });
  else for (const condition of Object.keys(notified)) if (condition.startsWith('quota:')) delete notified[condition];
  // Forget conditions of tasks that are gone, so the memory does not grow without bound.
  for (const [condition, entry] of Object.entries(notified)) {
    if (entry.task && !evaluation.memory.tasks[entry.task]) delete notified[condition];
  }
  for (const { condition, task, message } of conditions) {
    if (notified[condition]) continue;
    notified[condition] = { at: deps.clock(), ...(task ? { task } : {}) };
    if (!agent.notify) {
      report.notifications.push({ condition, sent: false, error: 'no notify template: shown in claw status only' });
      continue;
    }
    const result = await runProcess(fillTemplate(agent.notify, { agent: agent.id, message, model: agent.model }), {
      env: deps.env,
      timeoutMs: 60_000,
    });
    const ok = !result.spawnError && !result.timedOut && result.code === 0;
    report.notifications.push({ condition, sent: ok, ...(ok ? {} : { error: describeFailure(agent.notify[0]!, result, 60_000) }) });
  }
}
