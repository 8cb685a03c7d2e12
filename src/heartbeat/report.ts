// The heartbeat's report: the evaluation as task lines and counts, and the run kept in the store.
import { formatDuration } from '../duration.js';
import type { RunStore } from '../store/types.js';
import type { SourceReport } from '../sources/types.js';
import type { Evaluation, TaskView } from './evaluate.js';
import type { HeartbeatReport, TaskLine } from './types.js';

function line(view: TaskView): TaskLine {
  return { key: view.key, source: view.task.source, id: view.task.id, title: view.task.title, priority: view.task.priority, rounds: view.rounds };
}

export function countsOf(e: Evaluation): HeartbeatReport['counts'] {
  return {
    claimable: e.claimable.length,
    blocked: e.blocked.length,
    inProgress: e.inProgress.length,
    suspected: e.stalled.filter((s) => s.stall === 'suspected').length,
    confirmed: e.stalled.filter((s) => s.stall === 'confirmed').length,
    paused: e.paused.length,
  };
}

/** The report of what the sources held and how the tasks stand, before anything is dispatched. */
export function evaluationReport(
  base: Omit<HeartbeatReport, 'outcome' | 'endedAt'>,
  sources: SourceReport[],
  evaluation: Evaluation,
  splayMs: number,
  degraded: boolean,
): HeartbeatReport {
  return {
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
}

/** Stores the run's record; with `release`, lets go of the run's lock in the same write. */
export async function recordRun(
  store: RunStore,
  report: HeartbeatReport,
  startedAt: number,
  endedAt: number,
  release?: { lease: string; owner: string },
): Promise<void> {
  await store.saveRun(
    {
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
    },
    release,
  );
}
