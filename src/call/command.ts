// Runs a wrapped command without a shell, stdio passed through, its output scanned for rate limits.
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Output } from '../io.js';
import { UnavailableError } from '../errors.js';
import { knownSecrets } from '../config/config.js';
import { redactingStream } from '../redact.js';
import type { ProcessRunner } from '../process/runner.js';

/** The executable a command name resolves to on PATH, or undefined when there is none. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The interpreter a script's `#!` line names, when the file has one. */
function interpreterOf(file: string): string | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(256);
      const text = head.subarray(0, readSync(fd, head, 0, head.length, 0)).toString('utf8');
      return /^#!\s*(\S+)/.exec(text)?.[1];
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Why a command that was found could not be started, as one line (exit 69). */
export function cannotRun(command: string, file: string | undefined, err: NodeJS.ErrnoException): UnavailableError {
  const interpreter = file ? interpreterOf(file) : undefined;
  if (err.code === 'ENOENT' && file && interpreter) {
    return new UnavailableError(`cannot run ${command}: its interpreter ${interpreter} (from its #! line) was not found; install it or fix the #! line`);
  }
  if (err.code === 'ENOENT') return new UnavailableError(`command not found: ${command}`);
  if (err.code === 'EACCES') return new UnavailableError(`cannot run ${command}: permission denied`);
  if (err.code === 'ENOEXEC') return new UnavailableError(`cannot run ${command}: not an executable format (a script needs a #! line)`);
  return new UnavailableError(`cannot run ${command}: ${err.code ?? err.message}`);
}

export interface CommandResult {
  exitCode: number;
  /** The output matched the retry pattern (e.g. it printed 429 or "rate limit"). */
  matchedRetryOn: boolean;
}

export interface RunCommandOptions {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: Output;
  stderr: Output;
  retryOn?: RegExp;
  /** Called once the process has started: the request is on its way. */
  onSpawn?: () => void;
  /** What starts the command (execaRunner outside tests). */
  runner: ProcessRunner;
}

const tailLength = 512;

export async function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  const [file] = options.argv;
  let matched = false;
  // Scan each chunk with the tail of the previous one so a match split across chunks is still seen.
  const scanner = () => {
    let tail = '';
    return (chunk: Buffer) => {
      if (!options.retryOn || matched) return;
      const text = tail + chunk.toString('utf8');
      if (options.retryOn.test(text)) matched = true;
      tail = text.slice(-tailLength);
    };
  };
  const scanOut = scanner();
  const scanErr = scanner();
  // What claw passes on is redacted, a secret split across chunks included.
  const secrets = knownSecrets(options.env);
  const out = redactingStream(secrets, (bytes) => options.stdout.write(bytes));
  const err = redactingStream(secrets, (bytes) => options.stderr.write(bytes));
  const result = await options.runner.stream(options.argv, {
    env: options.env,
    cwd: options.cwd,
    onStdout: (chunk) => {
      out.write(chunk);
      scanOut(chunk);
      return !options.stdout.closed;
    },
    onStderr: (chunk) => {
      err.write(chunk);
      scanErr(chunk);
      return !options.stderr.closed;
    },
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
  });
  out.end();
  err.end();
  if (result.spawnError) throw cannotRun(file!, findExecutable(file!, options.env, options.cwd), result.spawnError);
  const exitCode = result.code ?? 128 + (result.signal ? (osConstants.signals[result.signal] ?? 1) : 1);
  return { exitCode, matchedRetryOn: matched };
}
