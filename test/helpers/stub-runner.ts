// A ProcessRunner for in-process tests, like gh's run.Stub: each command claw may start is
// registered with what it prints; any other command is refused (the call rejects, naming it), and
// verify() fails when a registered command was never started.
import type { ProcessResult, ProcessRunner, RunOptions, StreamResult } from '../../src/process/runner';

export interface StubReply {
  code?: number;
  stdout?: string;
  stderr?: string;
}

interface Registration {
  pattern: RegExp;
  reply: StubReply | ((argv: readonly string[], options: RunOptions) => StubReply);
  used: number;
}

export interface StubRunner extends ProcessRunner {
  /** Answers every command whose argv, joined by spaces, matches `pattern`. */
  register(pattern: RegExp, reply: Registration['reply']): StubRunner;
  /** The argv of every command started, in order. */
  readonly calls: string[][];
  /** Throws when a registered command was never started. */
  verify(): void;
}

export function stubRunner(): StubRunner {
  const registrations: Registration[] = [];
  const calls: string[][] = [];
  const find = (argv: readonly string[]): Registration => {
    calls.push([...argv]);
    const line = argv.join(' ');
    const found = registrations.find((r) => r.pattern.test(line));
    if (!found) throw new Error(`stub runner: unexpected command: ${line}`);
    found.used++;
    return found;
  };
  const stub: StubRunner = {
    calls,
    register(pattern, reply) {
      registrations.push({ pattern, reply, used: 0 });
      return stub;
    },
    verify() {
      const unused = registrations.filter((r) => r.used === 0).map((r) => String(r.pattern));
      if (unused.length) throw new Error(`stub runner: registered but never started: ${unused.join(', ')}`);
    },
    async run(argv, options): Promise<ProcessResult> {
      const registration = find(argv);
      const reply = typeof registration.reply === 'function' ? registration.reply(argv, options) : registration.reply;
      options.onSpawn?.(2 ** 22 + calls.length);
      return { code: reply.code ?? 0, signal: null, stdout: reply.stdout ?? '', stderr: reply.stderr ?? '', timedOut: false };
    },
    async stream(argv, options): Promise<StreamResult> {
      const registration = find(argv);
      const reply =
        typeof registration.reply === 'function' ? registration.reply(argv, { env: options.env, cwd: options.cwd, timeoutMs: 0 }) : registration.reply;
      options.onSpawn?.();
      if (reply.stdout) options.onStdout(Buffer.from(reply.stdout));
      if (reply.stderr) options.onStderr(Buffer.from(reply.stderr));
      return { code: reply.code ?? 0, signal: null };
    },
  };
  return stub;
}
