import type { PriorityName } from '../priority.js';

export type TaskStatus = 'todo' | 'in_progress' | 'blocked' | 'done';
export type SourceName = 'multica' | 'workboard' | 'docs';

/** One task shape for every source. */
export interface Task {
  source: SourceName;
  id: string;
  title: string;
  status: TaskStatus;
  priority: PriorityName;
  dependsOn: string[];
  /** Last progress signal, epoch ms. */
  updatedAt: number;
}

export interface SourceReport {
  source: SourceName;
  /** degraded: read only in part (e.g. Multica past its paging bound); the tasks found are used. */
  state: 'ok' | 'degraded' | 'stale' | 'unavailable' | 'not configured';
  /** Why it is unavailable, stale or degraded, or how old a cached value is. */
  detail?: string;
  /** How old the value used is, in ms (cached or stale). */
  ageMs?: number;
  tasks: Task[];
  /** Status of every task the source knows (for dependencies on other agents' tasks). */
  known: Record<string, TaskStatus>;
  /** Data problems that did not stop the source: skipped malformed records, unreadable docs. */
  warnings?: string[];
}

// The records claw reads from each source, as sources/validate.ts checks them.

export interface MulticaIssue {
  id: string;
  identifier?: string;
  title: string;
  status: string;
  status_category?: string | null;
  priority?: string | null;
  assignee_id?: string | null;
  assignee_type?: string | null;
  updated_at?: string | null;
  last_activity_at?: string | null;
}

export interface MulticaAgent {
  id: string;
  name: string;
  model?: string | null;
  archived_at?: string | null;
}

export interface WorkboardCard {
  id: string;
  title: string;
  status: string;
  priority?: string | null;
  agentId?: string | null;
  updatedAt?: number | null;
  execution?: { updatedAt?: number | null } | null;
  metadata?: {
    archivedAt?: number | null;
    links?: { type: string; targetCardId: string }[];
    claim?: { lastHeartbeatAt?: number | null } | null;
  } | null;
}
