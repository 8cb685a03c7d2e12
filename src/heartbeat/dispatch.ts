// The dispatch of one heartbeat: the message and argv from the agent's template, admission through
// the shared limit, the turn in its own process group (recorded in the store while it runs), and
// what to do about a dispatch an earlier, dead heartbeat left running.
import { hostname } from 'node:os';
import { ClawError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { describeFailure, endGroup, groupAlive, processStartMark } from '../proc.js';
import { gatewayConfigs } from '../config/config.js';
import type { AgentSpec } from '../config/roster.js';
import type { Gateway } from '../limiter/types.js';
import { admitCall, defaultMaxWait, fallbackFor, startWindow } from '../limiter/limiter.js';
import type { TaskView } from './evaluate.js';
import { dispatchKey } from './keys.js';
import type { HeartbeatDeps, HeartbeatReport } from './types.js';

/** After TERM, a dispatch's group gets this long before KILL. */
const killGraceMs = 2000;
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

/**
 * The dispatch an earlier run recorded and did not clear (its heartbeat died): still running before
 * its deadline, it is left alone and this run dispatches nothing; past it, its whole group is killed.
 */
export async function earlierDispatch(agent: AgentSpec, deps: HeartbeatDeps, host: string): Promise<{ running?: string; warning?: string }> {
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

/**
 * Admits the turn through the shared limit (a proxied gateway admits each request in `claw proxy`)
 * and runs it, filling `report.dispatch`. Returns whether it started: only a started dispatch is a
 * round for its tasks.
 */
export async function dispatch(
  agent: AgentSpec,
  deps: HeartbeatDeps,
  report: HeartbeatReport,
  gateway: Gateway,
  priority: 1 | 2 | 3 | 4,
  message: string,
): Promise<boolean> {
  const { store } = deps;
  const planned = report.dispatch!;
  const fallback = fallbackFor(deps.config, agent.fallbackModel);
  let started = false;
  try {
    const maxWaitMs = defaultMaxWait(priority);
    // A proxied gateway admits each of the turn's model requests in `claw proxy`: the dispatch takes no slot of its own.
    const proxied = gatewayConfigs(deps.config)[gateway.name]?.proxied === true;
    const admission = proxied
      ? { gateway, model: agent.model, fellBack: false, waitedMs: 0 }
      : await admitCall(store, {
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
  if (planned.error) {
    report.outcome = 'failed';
    report.error = `dispatch failed: ${planned.error}`;
  }
  return started;
}
