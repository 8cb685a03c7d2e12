// Bounded logs for cron lines: a crontab line appends claw's output to `<log dir>/<agent>.log`
// (`>> x.log 2>&1`), and nothing else ever trims it. A cron-started claw checks the file its own
// stdout appends to (one readlink and one fstat) and rotates it past a size cap, the way logrotate
// would: x.log -> x.log.1 -> ... -> x.log.<keep>. This run's output goes on into x.log.1 (its
// descriptor follows the renamed file); the next run's `>>` starts a new x.log.
import { fstatSync, readlinkSync, renameSync, statSync, truncateSync } from 'node:fs';
import { parseSize, type ClawConfig } from './config/config.js';
import { onLinux } from './host.js';

export interface LogCap {
  /** Rotate past this many bytes; 0 never rotates. */
  maxBytes: number;
  /** Old files kept (x.log.1 ... x.log.<keep>); 0 truncates in place. */
  keep: number;
}

export const defaultLogCap: LogCap = { maxBytes: 10 * 1024 * 1024, keep: 3 };

export function logCap(config: ClawConfig): LogCap {
  return {
    maxBytes: config.logs?.maxSize !== undefined ? parseSize(config.logs.maxSize)! : defaultLogCap.maxBytes,
    keep: config.logs?.keep ?? defaultLogCap.keep,
  };
}

/** Rotates `file` when it is over the cap; returns whether it did. */
export function rotateLog(file: string, cap: LogCap): boolean {
  for (let i = cap.keep - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (cap.keep === 0) truncateSync(file, 0);
  else renameSync(file, `${file}.1`);
  return true;
}

/**
 * When stdout appends to a `*.log` file over the cap, rotates it. Only Linux says which file a
 * descriptor is (/proc/self/fd); elsewhere this does nothing. Never fails the run: a log that
 * cannot be rotated is left as it is.
 */
export function rotateOwnLog(cap: LogCap, fd = 1): string | undefined {
  if (cap.maxBytes <= 0 || !onLinux) return undefined;
  try {
    const own = fstatSync(fd);
    if (!own.isFile() || own.size <= cap.maxBytes) return undefined;
    const file = readlinkSync(`/proc/self/fd/${fd}`);
    if (!file.endsWith('.log')) return undefined;
    // Another claw run sharing the log may have rotated it already: rotate only our own file.
    const current = statSync(file);
    if (current.ino !== own.ino || current.dev !== own.dev) return undefined;
    rotateLog(file, cap);
    return file;
  } catch {
    return undefined;
  }
}
