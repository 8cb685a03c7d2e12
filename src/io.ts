// What the outside world provides, injected so tests can pass fakes.
import { readlinkSync, writeSync } from 'node:fs';
import { knownSecrets } from './config/config.js';
import { redactBytes, redactSecrets } from './redact.js';
import { execaRunner, type ProcessRunner } from './process/runner.js';
import { builtinModule } from './host.js';
export interface Output {
  write(text: string | Uint8Array): unknown;
  isTTY?: boolean;
  /** A terminal's width in columns (undefined off a terminal). */
  readonly columns?: number | undefined;
  /** The reader went away (EPIPE: `claw ... | head`): what is written now is dropped. */
  readonly closed?: boolean;
}

export interface IO {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Wall clock in ms; CLAW_CLOCK_OFFSET_MS shifts it (for tests of skewed hosts). */
  now(): number;
  /** Starts every child process claw runs (tests pass a stub that refuses unexpected commands). */
  runner: ProcessRunner;
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
  return builtinModule<typeof import('node:tty')>('node:tty')!.isatty(fd);
}

/**
 * A reader that goes away (`claw status --json | head -c1`) is not an error in claw: like most
 * CLIs, the rest of the output is dropped quietly and the command ends with its own exit code.
 */
function descriptorOutput(fd: 1 | 2, stream: () => NodeJS.WriteStream): Output {
  let fallback: NodeJS.WriteStream | undefined;
  let tty: boolean | undefined;
  let closed = false;
  return {
    get isTTY() {
      return (tty ??= isTerminal(fd));
    },
    get columns() {
      // Only a terminal has a width; building the stream costs a start-up that only a person waits for.
      return (tty ??= isTerminal(fd)) ? stream().columns : undefined;
    },
    get closed() {
      return closed;
    },
    write(text: string | Uint8Array) {
      if (closed) return false;
      if (fallback) return fallback.write(text);
      const bytes = typeof text === 'string' ? Buffer.from(text) : text;
      let done = 0;
      try {
        while (done < bytes.length) done += writeSync(fd, bytes, done);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          closed = true;
          return false;
        }
        if (code !== 'EAGAIN') throw err;
        fallback = stream();
        fallback.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EPIPE') throw error;
          closed = true;
        });
        // What writeSync already wrote is not written again.
        fallback.write(bytes.subarray(done));
      }
      return true;
    },
  };
}

/** An output that never shows a secret value: every write is redacted first (see secretValues). */
export function redactingOutput(output: Output, secrets: () => readonly string[]): Output {
  return {
    get isTTY() {
      return output.isTTY;
    },
    get columns() {
      return output.columns;
    },
    get closed() {
      return output.closed;
    },
    write(text: string | Uint8Array) {
      const values = secrets();
      if (values.length === 0) return output.write(text);
      return output.write(typeof text === 'string' ? redactSecrets(text, values) : redactBytes(text, values));
    },
  };
}

// Ten years: room for tests that simulate a year or more of runs; 1e20 and the like are held here.
const maxClockOffsetMs = 3653 * 86_400_000;

export function processIO(): IO {
  // A test hook: NaN counts as 0 and the offset is held to a year either way, so no date overflows.
  const asked = Number(process.env.CLAW_CLOCK_OFFSET_MS ?? 0) || 0;
  const offset = Math.round(Math.min(Math.max(asked, -maxClockOffsetMs), maxClockOffsetMs));
  let stdout: Output | undefined;
  let stderr: Output | undefined;
  // Getters: nothing is built until it is used, and stdin costs a start-up it rarely needs.
  return {
    // Everything claw prints goes through here: no API key or store password reaches a terminal or log.
    get stdout() {
      return (stdout ??= redactingOutput(
        descriptorOutput(1, () => process.stdout),
        () => knownSecrets(process.env),
      ));
    },
    get stderr() {
      return (stderr ??= redactingOutput(
        descriptorOutput(2, () => process.stderr),
        () => knownSecrets(process.env),
      ));
    },
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now() + offset,
    runner: execaRunner,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Writes to stderr without touching it until there is something to write: Node builds the stream on first use. */
export function lazyStderr(io: IO): Output {
  return { write: (text: string | Uint8Array) => io.stderr.write(text) };
}
