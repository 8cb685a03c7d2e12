// Who this process is and where it runs: its pid, the platform and Node version, the host's
// monotonic clock, and whether another pid is alive. The one core module that reads the global
// `process`; the rest of core imports these (or is handed env, clock and IO by its command), so what
// core takes from the running process is listed here and nowhere else.

/** This process's pid: part of a lease owner (`<host>:<pid>`) and of unique ids. */
export const ownPid: number = process.pid;

export const nodeVersion: string = process.version;

/** Linux: /proc answers which file a descriptor is and when a process started. */
export const onLinux: boolean = process.platform === 'linux';

/** Milliseconds of the host's monotonic clock (CLOCK_MONOTONIC on Linux: the same for every process). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

declare const require: ((id: string) => unknown) | undefined;

/**
 * A Node built-in module (node:tty, node:sqlite, node:http ...) loaded when first asked for;
 * undefined when this Node has none of that name. Not through createRequire: loading node:module
 * for it would cost every start that reaches the module asking (on Node 20, the ESM loader too).
 */
export function builtinModule<T>(id: string): T | undefined {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get === 'function') return get(id) as T | undefined;
  // Node 20 before 20.16, where only the CommonJS bundle runs: it has require.
  return require!(id) as T;
}

/** Whether a process with this pid exists on this host (signal 0; EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
