// What the outside world provides, injected so tests can pass fakes.
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

export function processIO(): IO {
  const offset = Number(process.env.CLAW_CLOCK_OFFSET_MS ?? 0) || 0;
  // Getters: Node builds each stdio stream on first use, and stdin costs a start-up it rarely needs.
  return {
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
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
