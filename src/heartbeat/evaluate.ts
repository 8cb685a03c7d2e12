// Evaluate an agent's tasks against what earlier runs remembered: dependencies, stalls, rounds. Pure.
import { parsePriority, type PriorityName, type PriorityRank } from '../priority.js';
import type { Task, TaskStatus } from '../sources/types.js';

export interface TaskMemory {
  rounds: number;
  paused?: boolean;
  /** The progress mark (updatedAt) a stall was first seen at, and how far it got. */
  stallMark?: number;
  stall?: 'suspected' | 'confirmed';
  /** The progress mark a recovery was already dispatched for. */
  recoveredMark?: number;
  warned?: boolean;
}

export interface Escalation {
  /** When the condition was first seen. */
  at: number;
  task?: string;
  /** false while it has not reached anyone (a failed notify, or no notify template); absent in memory from before retries: sent. */
  sent?: boolean;
  /** Notify runs so far (retried on later runs up to a bound). */
  attempts?: number;
  error?: string;
  message?: string;
}

export interface AgentMemory {
  tasks: Record<string, TaskMemory>;
  /** Escalations by condition, so each is sent once; `task` lets them be forgotten with it. */
  notified: Record<string, Escalation>;
}

export const emptyMemory = (): AgentMemory => ({ tasks: {}, notified: {} });

export interface TaskView {
  key: string;
  task: Task;
  rounds: number;
}

export interface Evaluation {
  claimable: TaskView[];
  blocked: (TaskView & { waitingOn: string[] })[];
  inProgress: TaskView[];
  stalled: (TaskView & { stall: 'suspected' | 'confirmed'; stalledForMs: number })[];
  paused: TaskView[];
  /** Confirmed stalls not yet recovered: to be named in the dispatch. */
  recover: TaskView[];
  memory: AgentMemory;
}

export interface EvaluateOptions {
  now: number;
  stallAfterMs: number;
  /** Status of every task each source knows, for dependencies that point at other agents' tasks. */
  known: Partial<Record<Task['source'], Record<string, TaskStatus>>>;
}

export const taskKey = (task: Task): string => `${task.source}:${task.id}`;

export function evaluate(tasks: Task[], previous: AgentMemory, options: EvaluateOptions): Evaluation {
  const memory: AgentMemory = { tasks: {}, notified: { ...previous.notified } };
  const result: Evaluation = { claimable: [], blocked: [], inProgress: [], stalled: [], paused: [], recover: [], memory };
  // One pass builds the index, so a dependency lookup is a Map get, not a scan of every task:
  // evaluation stays linear in tasks and dependencies. The first task with a key wins.
  const own = new Map<string, TaskStatus>();
  for (const task of tasks) {
    const key = taskKey(task);
    if (!own.has(key)) own.set(key, task.status);
  }
  const statusOf = (task: Task, id: string): TaskStatus | undefined => {
    const known = options.known[task.source];
    // Own properties only: a dependency named "constructor" is not Object.prototype's.
    return (known && Object.hasOwn(known, id) ? known[id] : undefined) ?? own.get(`${task.source}:${id}`);
  };
  for (const task of tasks) {
    const key = taskKey(task);
    const mem: TaskMemory = { ...(previous.tasks[key] ?? { rounds: 0 }) };
    if (task.status === 'done') continue; // finished tasks are forgotten
    memory.tasks[key] = mem;
    const view: TaskView = { key, task, rounds: mem.rounds };
    if (mem.paused) {
      result.paused.push(view);
      continue;
    }
    if (task.status === 'blocked') {
      result.blocked.push({ ...view, waitingOn: [] });
      continue;
    }
    if (task.status === 'todo') {
      const waitingOn = task.dependsOn.filter((id) => statusOf(task, id) !== 'done');
      if (waitingOn.length > 0) result.blocked.push({ ...view, waitingOn });
      else result.claimable.push(view);
      continue;
    }
    result.inProgress.push(view);
    const stalledForMs = options.now - task.updatedAt;
    if (stalledForMs <= options.stallAfterMs) {
      delete mem.stall;
      delete mem.stallMark;
      continue;
    }
    // Seen stalled once: suspected. Still at the same progress mark on a later run: confirmed.
    mem.stall = mem.stallMark === task.updatedAt && mem.stall ? 'confirmed' : 'suspected';
    mem.stallMark = task.updatedAt;
    result.stalled.push({ ...view, stall: mem.stall, stalledForMs });
    if (mem.stall === 'confirmed' && mem.recoveredMark !== task.updatedAt) result.recover.push(view);
  }
  return result;
}

/** The dispatch priority: the highest task priority, never below the agent's own. */
export function dispatchPriority(agentPriority: PriorityRank, tasks: TaskView[]): PriorityRank {
  return tasks.reduce<PriorityRank>((best, view) => Math.min(best, parsePriority(view.task.priority as PriorityName) ?? 3) as PriorityRank, agentPriority);
}

/**
 * Counts a round for each task a started dispatch named, whatever came of it (a dispatch that never
 * started, not installed or not admitted, is no round). A task at `maxRounds` is paused; one at
 * `warnAt` of them is warned about once. A recovered task remembers the progress mark it was
 * recovered at. Updates `evaluation.memory`; returns the warnings.
 */
export function countRounds(evaluation: Evaluation, named: TaskView[], limits: { maxRounds: number; warnAt: number }): string[] {
  const warnings: string[] = [];
  for (const view of named) {
    const mem = evaluation.memory.tasks[view.key]!;
    mem.rounds += 1;
    if (evaluation.recover.some((r) => r.key === view.key)) mem.recoveredMark = view.task.updatedAt;
    if (mem.rounds >= limits.maxRounds) {
      mem.paused = true;
      warnings.push(`${view.key} reached ${limits.maxRounds} rounds and is paused`);
    } else if (mem.rounds >= Math.ceil(limits.warnAt * limits.maxRounds) && !mem.warned) {
      mem.warned = true;
      warnings.push(`${view.key} has had ${mem.rounds} of ${limits.maxRounds} rounds`);
    }
  }
  return warnings;
}
