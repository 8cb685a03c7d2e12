// Runs an external program with a timeout that kills it and everything it started.
import { createRequire } from 'node:module';

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
      resolve({ code: null, signal: null, stdout, stderr, timedOut: false, spawnError: err });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      // Whatever it left behind in its group goes too.
      if (timedOut) killGroup('SIGKILL');
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export function describeFailure(name: string, result: ProcessResult, timeoutMs: number): string {
  if (result.spawnError?.code === 'ENOENT') return `not installed (${name} not found on PATH)`;
  if (result.spawnError) return `could not start ${name}: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${Math.round(timeoutMs / 1000)}s (killed)`;
  const reason = failureReason(result.stdout, result.stderr);
  return `${name} exited ${result.code ?? result.signal}${reason ? `: ${reason}` : ''}`;
}

const maxReasonLength = 300;
const openclawPrefix = '[openclaw] ';

/**
 * Why a program failed, on one line. openclaw prints its reason as `{"ok":false,"error":{"message"}}`
 * on stdout under --json and as a `[openclaw] Reason:` line on stderr followed by advice lines (so
 * the last stderr line is never the reason); its stderr-only failures and multica put the reason
 * first. Lines are joined with "; " (after a line ending in ":" with a space) and the whole bounded.
 */
export function failureReason(stdout: string, stderr: string): string {
  const lines = fromJson(stdout) ?? fromReasonLine(stderr) ?? leadingLines(stderr);
  let text = '';
  for (const raw of lines) {
    // Colour codes and other control characters would garble a report line or a terminal.
    const line = raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]/g, ' ').trim();
    if (!line) continue;
    text += text === '' ? line : text.endsWith(':') ? ` ${line}` : `; ${line}`;
  }
  return text.length > maxReasonLength ? `${text.slice(0, maxReasonLength - 1)}…` : text;
}

function fromJson(stdout: string): string[] | undefined {
  const trimmed = stdout.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const doc = JSON.parse(trimmed) as { ok?: unknown; error?: { message?: unknown } };
    const message = doc?.ok === false ? doc.error?.message : undefined;
    return typeof message === 'string' && message.trim() ? message.split('\n') : undefined;
  } catch {
    return undefined;
  }
}

function fromReasonLine(stderr: string): string[] | undefined {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${openclawPrefix}Reason:`));
  if (at < 0) return undefined;
  // A reason with several lines runs up to the next `[openclaw] ` line.
  const end = lines.findIndex((l, i) => i > at && l.startsWith(openclawPrefix));
  const reason = lines.slice(at, end < 0 ? undefined : end);
  reason[0] = reason[0]!.slice(`${openclawPrefix}Reason:`.length);
  return reason;
}

/**
 * The first lines, up to an indented one (a stack trace, a list of commands to run) or a blank one.
 * A line ending in ":" after the first introduces advice ("If you use nvm, run:") and is dropped.
 */
function leadingLines(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.trim()) {
      if (out.length) break;
      continue;
    }
    const last = out.at(-1)?.trimEnd();
    if (last !== undefined && (/^\s/.test(line) || last.endsWith(':'))) {
      if (last.endsWith(':')) {
        if (out.length > 1) out.pop();
        else out.push(line);
      }
      break;
    }
    out.push(line);
  }
  return out;
}
