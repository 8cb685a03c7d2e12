// The shapes of one heartbeat: what it is given, and the report it returns (printed by the command,
// kept in the store's runs).
import type { ClawConfig } from '../config/config.js';
import type { Store } from '../store/types.js';
import type { Task } from '../sources/types.js';
import type { ProcessRunner } from '../process/runner.js';

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

export interface TaskLine {
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
