// Runs the built bin as real OS processes with their own state and config dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');
export const clawBin = join(repoRoot, 'bin', 'claw');

export type StoreKind = 'sqlite' | 'redis';

/** The stores every behaviour test runs against: SQLite always, Redis when there is one. */
export const stores: StoreKind[] = process.env.CLAW_TEST_REDIS_URL ? ['sqlite', 'redis'] : ['sqlite'];

/**
 * The stores of the real-time tests (vitest's `timing` project): the same, except under
 * CLAW_TEST_TIMING_REDIS=no. .ci/run sets that on its Node 20 pass and runs them against Redis on the
 * Node 24 pass: the Redis store is the same JavaScript on every Node, its real-time cases take about
 * two minutes a pass, and everything else (the admission contract included) runs on Redis on both.
 */
export const timingStores: StoreKind[] = process.env.CLAW_TEST_TIMING_REDIS === 'no' ? ['sqlite'] : stores;

let sandboxes = 0;

export interface Sandbox {
  store: StoreKind;
  root: string;
  stateDir: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
  writeConfig(config: unknown): void;
}

export function sandbox(extraEnv: NodeJS.ProcessEnv = {}, store: StoreKind = 'sqlite'): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'claw-test-'));
  // Each sandbox gets its own key prefix on the shared test Redis.
  const base = store === 'redis' ? { storePrefix: `claw-test:${process.pid}:${++sandboxes}:${Date.now()}:` } : {};
  const stateDir = join(root, 'state');
  const configDir = join(root, 'config');
  mkdirSync(configDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: root,
    CLAW_STATE_DIR: stateDir,
    CLAW_CONFIG_DIR: configDir,
    ...(store === 'redis' ? { CLAW_STORE: process.env.CLAW_TEST_REDIS_URL } : {}),
    ...extraEnv,
  };
  writeFileSync(join(configDir, 'config.json'), JSON.stringify(base));
  return {
    store,
    root,
    stateDir,
    configDir,
    env,
    writeConfig: (config) => writeFileSync(join(configDir, 'config.json'), JSON.stringify({ ...base, ...(config as object) }, null, 2)),
  };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function startClaw(args: string[], env: NodeJS.ProcessEnv, input?: string): ChildProcess {
  const child = spawn(process.execPath, [clawBin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  // A claw that exits before it reads stdin closes the pipe (EPIPE here): what it did is the test's concern, not the write.
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(input ?? '');
  return child;
}

export function finished(child: ChildProcess): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 + 9 : -1), stdout, stderr }));
  });
}

export function runClaw(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Result> {
  return finished(startClaw(args, env, input));
}

export async function statusJson(env: NodeJS.ProcessEnv): Promise<any> {
  const result = await runClaw(['status', '--json'], env);
  if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs}ms`);
}

/** The starts a logStart command wrote, oldest first. */
export function readStarts(log: string): { label: string; at: number }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [label, at] = line.split(' ');
      return { label: label!, at: Number(at) };
    })
    .sort((a, b) => a.at - b.at);
}

/** The most starts that any rolling window of `windowMs` holds. */
export function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** A command that appends "<label> <epoch ms>" to a log file when it starts. */
export function logStart(log: string, label = 'start'): string[] {
  return ['sh', '-c', `echo "${label} $(date +%s%3N)" >> "${log}"`];
}
