// Escalation: confirmed stalls, paused tasks, failed dispatches and spent quotas go to the agent's
// notify template, once per condition, retried on later runs up to a bound.
import { formatDuration } from '../duration.js';
import { describeFailure } from '../proc.js';
import { knownSecrets } from '../config/config.js';
import { redactSecrets } from '../redact.js';
import type { AgentSpec } from '../config/roster.js';
import type { Evaluation } from './evaluate.js';
import { fillTemplate } from './dispatch.js';
import type { HeartbeatDeps, HeartbeatReport } from './types.js';

/** A notification that fails is tried again on later runs, this many times in all. */
export const maxNotifyAttempts = 5;

/** Confirmed stalls, paused tasks and failed dispatches go to the notify template, once per condition. */
export async function escalate(agent: AgentSpec, deps: HeartbeatDeps, report: HeartbeatReport, evaluation: Evaluation): Promise<void> {
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
    const result = await deps.runner.run(
      fillTemplate(agent.notify, { agent: agent.id, message: redactSecrets(message, knownSecrets(deps.env)), model: agent.model }),
      {
        env: deps.env,
        timeoutMs: 60_000,
      },
    );
    const ok = !result.spawnError && !result.timedOut && result.code === 0;
    const error = ok ? undefined : describeFailure(agent.notify[0]!, result, 60_000);
    notified[condition] = { ...first, sent: ok, attempts: attempts + 1, ...(error ? { error, message } : {}) };
    const next = attempts + 1 < maxNotifyAttempts ? 'tried again on the next run' : 'given up';
    report.notifications.push({
      condition,
      sent: ok,
      attempt: attempts + 1,
      ...(error ? { error: `${error} (attempt ${attempts + 1} of ${maxNotifyAttempts}; ${next})` } : {}),
    });
  }
}
