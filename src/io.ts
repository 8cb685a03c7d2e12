// What the outside world provides, injected so tests can pass fakes.
import { readlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
export interface Output {
  write(text: string | Uint8Array): unknown;
  isTTY?: boolean;
}

export interface IO {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Wall clock in ms; CLAW_CLOCK_OFFSET_MS shifts it (for tests of skewed hosts). */
  now(): number;
}

/**
 * Writes straight to a file descriptor: building process.stdout (a stream, with its modules) costs
 * a cron start several milliseconds. A descriptor that would block falls back to the stream.
 */
/**
 * node:tty loads node:net and the streams, several milliseconds of every cron start; on Linux the
 * descriptor's target says the same (/dev/pts/N, /dev/ttyN, /dev/console).
 */
function isTerminal(fd: number): boolean {
  if (process.platform === 'linux') {
    try {
      return /^\/dev\/(pts\/\d+|tty\w*|console)$/.test(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // no /proc: ask node:tty below
    }
  }
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

function descriptorOutput(fd: 1 | 2, stream: () => NodeJS.WriteStream): Output {
  let fallback: NodeJS.WriteStream | undefined;
  let tty: boolean | undefined;
  return {
    get isTTY() {
      return (tty ??= isTerminal(fd));
    },
    write(text: string | Uint8Array) {
      if (fallback) return fallback.write(text);
      try {
        const bytes = typeof text === 'string' ? Buffer.from(text) : text;
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        fallback = stream();
        fallback.write(text);
      }
      return true;
    },
  };
}

const maxClockOffsetMs = 366 * 86_400_000;

export function processIO(): IO {
  // A test hook: NaN counts as 0 and the offset is held to a year either way, so no date overflows.
  const asked = Number(process.env.CLAW_CLOCK_OFFSET_MS ?? 0) || 0;
  const offset = Math.round(Math.min(Math.max(asked, -maxClockOffsetMs), maxClockOffsetMs));
  let stdout: Output | undefined;
  let stderr: Output | undefined;
  // Getters: nothing is built until it is used, and stdin costs a start-up it rarely needs.
  return {
    get stdout() {
      return (stdout ??= descriptorOutput(1, () => process.stdout));
    },
    get stderr() {
      return (stderr ??= descriptorOutput(2, () => process.stderr));
    },
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now() + offset,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Writes to stderr without touching it until there is something to write: Node builds the stream on first use. */
export function lazyStderr(io: IO): Output {
  return { write: (text: string | Uint8Array) => io.stderr.write(text) };
}
