// One heartbeat of one agent: lock, splay, check the three sources, decide, dispatch, escalate, record.
import { hostname } from 'node:os';
import { ClawError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { priorityName } from '../priority.js';
import { describeFailure, endGroup, groupAlive, processStartMark } from '../proc.js';
import type { ProcessRunner } from '../process/runner.js';
import { knownSecrets, type ClawConfig } from '../config/config.js';
import { redactDeep, redactSecrets } from '../redact.js';
import type { AgentSpec } from '../config/roster.js';
import { cachePolicy } from '../cache/cache.js';
import { resolveGateway, type Gateway } from '../limiter/gateways.js';
import { admitCall, defaultMaxWait, fallbackFor, startWindow } from '../limiter/limiter.js';
import type { Store } from '../store/types.js';
import type { SourceReport, Task } from '../sources/types.js';
import { dispatchPriority, emptyMemory, evaluate, type AgentMemory, type Evaluation, type TaskView } from './evaluate.js';
import { gatherAll } from './gather.js';
import { dispatchKey, memoryKey, runLockName } from './keys.js';
import { leaseOwner, takeLease } from '../lease.js';
import { gatewayConfigs } from '../config/config.js';
import { quotaBlock } from '../proxy/blocks.js';

export type Outcome = 'idle' | 'dispatched' | 'skipped' | 'degraded' | 'failed' | 'deferred';

export interface HeartbeatDeps {
  store: Store;
  config: ClawConfig;
  env: NodeJS.ProcessEnv;
  /** Starts the sources' CLIs, the dispatch and the notify command. */
  runner: ProcessRunner;
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
  notifications: { condition: string; sent: boolean; attempt?: number; error?: string }[];
  warnings: string[];
  error?: string;
}

const maxTasksInMessage = 20;
const lockTtlMs = 60_000;
/** After TERM, a dispatch's group gets this long before KILL. */
const killGraceMs = 2000;
/** A notification that fails is tried again on later runs, this many times in all. */
export const maxNotifyAttempts = 5;

/** The dispatch running for an agent, kept in the store while it runs (its own process group). */
export interface RunningDispatch {
  host: string;
  /** The pid of the dispatch, which is also its process group id. */
  pid: number;
  /** /proc start time of that pid (Linux), so a reused pid is not taken for it. */
  startMark?: string;
  startedAt: number;
  /** When claw's timeout ends it: a later heartbeat kills an orphaned dispatch (its heartbeat died) from then on. */
  deadline: number;
}

/**
 * The `{timeout}` of a dispatch template: openclaw's own `--timeout` in seconds, ending before claw's
 * (a margin of a tenth, 1 s to 60 s) so openclaw ends the turn and reports it before claw kills it.
 */
export function innerTimeoutSeconds(timeoutMs: number): number {
  const margin = Math.min(60_000, Math.max(1000, Math.floor(timeoutMs / 10)));
  return Math.max(1, Math.floor((timeoutMs - margin) / 1000));
}


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
  return template.map((arg) => arg.replace(/\{(agent|message|model|timeout)\}/g, (_, name: string) => values[name] ?? ''));
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
    // A dispatch outlives a heartbeat killed with -9 (its own process group): never start a second beside it.
    const earlier = await earlierDispatch(agent, deps, host);
    if (earlier.running) {
      const report: HeartbeatReport = { ...base, outcome: 'skipped', endedAt: new Date(deps.clock()).toISOString(), error: earlier.running };
      if (!deps.dryRun) await record(store, report, startedAt, deps.clock());
      return report;
    }
    // No secret (a key a task title or a source carried) is shown, stored or sent from here on.
    const report = redactDeep(await check(agent, deps, { ...base, warnings: earlier.warning ? [earlier.warning] : [] }, owner, host), knownSecrets(deps.env));
    if (!deps.dryRun) await record(store, report, startedAt, deps.clock());
    return report;
  } finally {
    if (renew) clearInterval(renew);
    if (!deps.dryRun) await store.releaseLease(runLockName(agent.id), owner);
  }
}

/**
 * The dispatch an earlier run recorded and did not clear (its heartbeat died): still running before
 * its deadline, it is left alone and this run dispatches nothing; past it, its whole group is killed.
 */
async function earlierDispatch(agent: AgentSpec, deps: HeartbeatDeps, host: string): Promise<{ running?: string; warning?: string }> {
  const stored = await deps.store.stateGet(dispatchKey(agent.id));
  if (!stored) return {};
  const earlier = JSON.parse(stored) as RunningDispatch;
  const now = deps.clock();
  const local = earlier.host === host;
  // On this host, ask the OS; on another, trust the deadline (and the grace its own KILL takes).
  const alive = local ? groupAlive(earlier.pid) && (earlier.startMark === undefined || isSameProcess(earlier)) : now < earlier.deadline + killGraceMs;
  const what = `the dispatch of an earlier run (pid ${earlier.pid}${local ? '' : ` on ${earlier.host}`}, started ${formatDuration(Math.max(0, now - earlier.startedAt))} ago)`;
  if (alive && now < earlier.deadline) return { running: `${what} is still running; it is killed at its timeout in ${formatDuration(earlier.deadline - now)}` };
  if (deps.dryRun) return alive ? { warning: `[dry run] would kill ${what}: past its timeout` } : {};
  let warning: string | undefined;
  if (alive && local) {
    await endGroup(earlier.pid, killGraceMs, deps.sleep);
    warning = `killed ${what}: its heartbeat had died and its timeout had passed`;
  }
  await deps.store.stateSet(dispatchKey(agent.id), '');
  return warning ? { warning } : {};
}

/** The recorded pid is still the dispatch: either it runs with the same start time, or it is gone and only its group is left (Linux keeps a group's id from being reused while the group lives). */
function isSameProcess(earlier: RunningDispatch): boolean {
  const mark = processStartMark(earlier.pid);
  return mark === undefined || mark === earlier.startMark;
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
    { store, policy: cachePolicy(deps.config), env: deps.env, runner: deps.runner, owner, clock: deps.clock, sleep: deps.sleep, workboardRead: deps.config.workboard?.read },
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
  const degraded = sources.some((s) => s.state === 'unavailable' || s.state === 'stale' || s.state === 'degraded');
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
    warnings: [...base.warnings, ...sources.flatMap((s) => s.warnings ?? [])],
  };

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
  let started = false;
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
    planned.argv = fillTemplate(agent.dispatch, { agent: agent.id, message, model, timeout: String(innerTimeoutSeconds(agent.timeoutMs)) });
    let sent: Promise<void> | undefined;
    let recorded: Promise<void> | undefined;
    const result = await deps.runner.run(planned.argv, {
      env: { ...deps.env, CLAW_AGENT: agent.id, CLAW_MODEL: model, CLAW_GATEWAY: admission.gateway.name },
      cwd: agent.workspace,
      timeoutMs: agent.timeoutMs,
      killGraceMs,
      onSpawn: (pid) => {
        started = true;
        sent = startWindow(store, admission);
        const startedAt = deps.clock();
        const startMark = processStartMark(pid);
        const running: RunningDispatch = { host: hostname(), pid, ...(startMark ? { startMark } : {}), startedAt, deadline: startedAt + agent.timeoutMs };
        recorded = store.stateSet(dispatchKey(agent.id), JSON.stringify(running));
      },
    });
    await sent;
    if (recorded) {
      await recorded;
      await store.stateSet(dispatchKey(agent.id), '');
    }
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
  // Every dispatch that started and names a task counts as a round for it, whatever came of it; one
  // that never started (not installed, not admitted) is no round.
  for (const view of started ? named : []) {
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
  const byKey = new Map([...evaluation.claimable, ...evaluation.paused, ...evaluation.inProgress].map((v) => [v.key, v.task]));
  for (const [key, mem] of Object.entries(evaluation.memory.tasks)) {
    if (!mem.paused) continue;
    const task = byKey.get(key);
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
  const current = new Set(conditions.map((c) => c.condition));
  for (const [condition, entry] of Object.entries(notified)) {
    // An escalation never sent whose condition has passed is moot.
    if (entry.sent === false && !current.has(condition)) delete notified[condition];
  }
  const now = deps.clock();
  for (const { condition, task, message } of conditions) {
    const earlier = notified[condition];
    // Entries from before retries existed have no `sent`: they were sent (or given up on).
    if (earlier && earlier.sent !== false) continue;
    const first = { at: earlier?.at ?? now, ...(task ? { task } : {}) };
    if (!agent.notify) {
      if (!earlier) {
        notified[condition] = { ...first, sent: false, attempts: 0, error: 'no notify template', message };
        report.notifications.push({ condition, sent: false, error: 'no notify template: shown in claw status only' });
      }
      continue;
    }
    const attempts = earlier?.attempts ?? 0;
    if (attempts >= maxNotifyAttempts) continue; // given up; `claw status` still shows it
    const result = await deps.runner.run(fillTemplate(agent.notify, { agent: agent.id, message: redactSecrets(message, knownSecrets(deps.env)), model: agent.model }), {
      env: deps.env,
      timeoutMs: 60_000,
    });
    const ok = !result.spawnError && !result.timedOut && result.code === 0;
    const error = ok ? undefined : describeFailure(agent.notify[0]!, result, 60_000);
    notified[condition] = { ...first, sent: ok, attempts: attempts + 1, ...(error ? { error, message } : {}) };
    const next = attempts + 1 < maxNotifyAttempts ? 'tried again on the next run' : 'given up';
    report.notifications.push({ condition, sent: ok, attempt: attempts + 1, ...(error ? { error: `${error} (attempt ${attempts + 1} of ${maxNotifyAttempts}; ${next})` } : {}) });
  }
}
