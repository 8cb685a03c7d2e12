// The ProcessRunner on execa, the one module in src that starts processes. execa spawns, resolves the
// program, passes exactly the env given (extendEnv: false) and reports how the program ended; what
// it does not do is kept here: the timeout ends the whole process group (TERM, then KILL), output is
// kept within a bound without killing a talkative program, and secrets are redacted.
import { execa } from 'execa';
import { knownSecrets } from '../config/config.js';
import { redactSecrets } from '../redact.js';
import type { ProcessResult, RunOptions, StreamOptions, StreamResult } from './types.js';

const defaultMaxOutputBytes = 16 * 1024 * 1024;
const defaultKillGraceMs = 2000;

/** Collects a stream's bytes up to `limit`; what comes after is read and dropped. */
function collector(limit: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    add(chunk: Buffer | string) {
      if (size >= limit) return;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const kept = bytes.subarray(0, limit - size);
      chunks.push(kept);
      size += kept.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** How the program ended, from execa's result; a program that never started has neither code nor signal. */
function ending(result: { exitCode?: number; signal?: string; cause?: unknown }): Pick<ProcessResult, 'code' | 'signal' | 'spawnError'> {
  if (result.exitCode === undefined && result.signal === undefined) {
    const cause = result.cause instanceof Error ? (result.cause as NodeJS.ErrnoException) : new Error(String(result.cause ?? 'could not start'));
    return { code: null, signal: null, spawnError: cause };
  }
  return { code: result.exitCode ?? null, signal: (result.signal as NodeJS.Signals | undefined) ?? null };
}

export async function run(argv: readonly string[], options: RunOptions): Promise<ProcessResult> {
  const [file, ...args] = argv;
  const limit = options.maxOutputBytes ?? defaultMaxOutputBytes;
  const stdout = collector(limit);
  const stderr = collector(limit);
  const child = execa(file!, args, {
    env: options.env,
    extendEnv: false,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    // Its own process group, so the timeout below reaches the children it started too.
    detached: true,
    // Read here, within the bound: execa's maxBuffer would kill a program that prints more.
    buffer: false,
    reject: false,
    cleanup: false,
    forceKillAfterDelay: false,
  });
  child.stdout?.on('data', (chunk: Buffer) => stdout.add(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk));
  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? defaultKillGraceMs);
  }, options.timeoutMs);
  child.once('spawn', () => options.onSpawn?.(child.pid!));
  const result = await child;
  clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  // Whatever it left behind in its group goes too.
  if (timedOut) killGroup('SIGKILL');
  // What a program prints reaches reports, the cache, the store and messages: no secret in it.
  const secrets = options.secrets ?? knownSecrets(options.env);
  const ended = ending(result);
  return { ...ended, stdout: redactSecrets(stdout.text(), secrets), stderr: redactSecrets(stderr.text(), secrets), timedOut: timedOut && !ended.spawnError };
}

export async function stream(argv: readonly string[], options: StreamOptions): Promise<StreamResult> {
  const [file, ...args] = argv;
  const child = execa(file!, args, {
    env: options.env,
    extendEnv: false,
    cwd: options.cwd,
    stdin: 'inherit',
    buffer: false,
    reject: false,
    cleanup: false,
    // A signal passed on is the user's: no KILL of ours follows it.
    forceKillAfterDelay: false,
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    // Our reader went away (`| head`): close the program's pipe too, so it ends as it would have
    // without claw in between (SIGPIPE or EPIPE) instead of running on unread.
    if (!options.onStdout(chunk)) child.stdout!.destroy();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (!options.onStderr(chunk)) child.stderr!.destroy();
  });
  const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  child.once('spawn', () => options.onSpawn?.());
  try {
    return ending(await child);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
