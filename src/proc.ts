// Runs an external program with a timeout that kills it and everything it started.
import { createRequire } from 'node:module';
import { knownSecrets } from './config/config.js';
import { redactSecrets } from './redact.js';

// Required on first use: a heartbeat with a warm cache starts no process, and loading
// node:child_process (with node:net) would cost it several milliseconds.
let childProcess: typeof import('node:child_process') | undefined;
function loadChildProcess(): typeof import('node:child_process') {
  return (childProcess ??= createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process'));
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The program could not be started (ENOENT when it is not installed). */
  spawnError?: NodeJS.ErrnoException;
}

export interface RunProcessOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  /** After TERM, wait this long before KILL. */
  killGraceMs?: number;
  maxOutputBytes?: number;
  onSpawn?: () => void;
  /** Values replaced by *** in what the program printed (default: knownSecrets(env)). */
  secrets?: readonly string[];
}

export function runProcess(argv: string[], options: RunProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    // Its own process group, so a timeout kills the children it started too.
    const child = loadChildProcess().spawn(file!, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const limit = options.maxOutputBytes ?? 16 * 1024 * 1024;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // What a child prints reaches reports, the cache, the store and messages: no secret in it.
    const secrets = options.secrets ?? knownSecrets(options.env);
    const clean = (result: ProcessResult): ProcessResult => ({ ...result, stdout: redactSecrets(result.stdout, secrets), stderr: redactSecrets(result.stderr, secrets) });
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < limit) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < limit) stderr += d.toString('utf8');
    });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 2000);
    }, options.timeoutMs);
    child.once('spawn', () => options.onSpawn?.());
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(clean({ code: null, signal: null, stdout, stderr, timedOut: false, spawnError: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      // Whatever it left behind in its group goes too.
      if (timedOut) killGroup('SIGKILL');
      resolve(clean({ code, signal, stdout, stderr, timedOut }));
    });
  });
}

export function describeFailure(name: string, result: ProcessResult, timeoutMs: number): string {
  if (result.spawnError?.code === 'ENOENT') return `not installed (${name} not found on PATH)`;
  if (result.spawnError) return `could not start ${name}: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${Math.round(timeoutMs / 1000)}s (killed)`;
  const line = (result.stderr.trim().split('\n').at(-1) ?? '').slice(0, 200);
  return `${name} exited ${result.code ?? result.signal}${line ? `: ${line}` : ''}`;
}
