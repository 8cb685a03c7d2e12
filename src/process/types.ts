// The shapes of starting a program: what a run is given and what it returns, and the ProcessRunner
// interface. Apart from runner.ts so the execa runner and the runner that loads it share them without a cycle.

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The program could not be started (ENOENT when it is not installed). */
  spawnError?: NodeJS.ErrnoException;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** At the timeout the program's whole process group gets TERM, then KILL after `killGraceMs`. */
  timeoutMs: number;
  /** After TERM, wait this long before KILL. */
  killGraceMs?: number;
  /** What is kept of each of stdout and stderr; the rest is read and dropped (default 16 MiB). */
  maxOutputBytes?: number;
  /** Called once the program runs, with its pid (also its process group id). */
  onSpawn?: (pid: number) => void;
  /** Values replaced by *** in what the program printed (default: knownSecrets(env)). */
  secrets?: readonly string[];
  /** Written to the program's stdin (else it gets none). */
  input?: string;
}

export interface StreamOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Each chunk the program writes; return false when it can go nowhere (our reader left), and that pipe is closed. */
  onStdout: (chunk: Buffer) => boolean;
  onStderr: (chunk: Buffer) => boolean;
  /** Called once the program runs. */
  onSpawn?: () => void;
}

export interface StreamResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: NodeJS.ErrnoException;
}

export interface ProcessRunner {
  /**
   * Runs a program to its end in its own process group, stdin empty (or `input`), its output
   * captured (bounded, secrets redacted). Never rejects for the program's sake: a program that
   * cannot start, fails or times out is described in the result.
   */
  run(argv: readonly string[], options: RunOptions): Promise<ProcessResult>;
  /**
   * Runs a program in the foreground: claw's stdin passed through, its stdout and stderr handed to
   * the callbacks as they come, SIGINT and SIGTERM that claw receives passed on to it.
   */
  stream(argv: readonly string[], options: StreamOptions): Promise<StreamResult>;
}
