// Runs a wrapped command without a shell, stdio passed through, its output scanned for rate limits.
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Output } from '../io.js';

/** The executable a command name resolves to on PATH, or undefined when there is none. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
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
}

const tailLength = 512;

export function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const [file, ...args] = options.argv;
    const child = spawn(file!, args, { cwd: options.cwd, env: options.env, stdio: ['inherit', 'pipe', 'pipe'] });
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
    child.stdout!.on('data', (chunk: Buffer) => {
      options.stdout.write(chunk);
      scanOut(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      options.stderr.write(chunk);
      scanErr(chunk);
    });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.once('spawn', () => options.onSpawn?.());
    child.once('error', (err) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      reject(err);
    });
    child.once('close', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 1) : 1);
      resolvePromise({ exitCode, matchedRetryOn: matched });
    });
  });
}
