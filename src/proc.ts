// What claw keeps around the programs it runs: why one failed, in one line, and the process groups
// of dispatches (alive, started when, ended). Programs are started by a ProcessRunner (src/process/).
import { readdirSync, readFileSync } from 'node:fs';
import type { ProcessResult } from './process/runner.js';

export type { ProcessResult } from './process/runner.js';

/** Whether any process of the group is still running (on Linux, zombies nobody reaped do not count). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // no /proc: the signal is all there is to go by
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (fields && fields[2] === String(pgid) && fields[0] !== 'Z') return true;
  }
  return false;
}

/** /proc/<pid>/stat from the state on (field 3), or undefined. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When the process started, as Linux counts it (/proc/<pid>/stat, field 22), so a pid reused by
 * another program is not taken for the one recorded. Undefined where there is no /proc or no such pid.
 */
export function processStartMark(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** TERM the whole group, then KILL what is left after `graceMs`. */
export async function endGroup(pgid: number, graceMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  for (let waited = 0; waited < graceMs && groupAlive(pgid); waited += 100) await sleep(100);
  if (groupAlive(pgid)) signal('SIGKILL');
}

export function describeFailure(name: string, result: ProcessResult, timeoutMs: number): string {
  if (result.spawnError?.code === 'ENOENT') return `not installed (${name} not found on PATH)`;
  if (result.spawnError) return `could not start ${name}: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${Math.round(timeoutMs / 1000)}s (killed)`;
  const reason = failureReason(result.stdout, result.stderr);
  return `${name} exited ${result.code ?? result.signal}${reason ? `: ${reason}` : ''}`;
}

const maxReasonLength = 300;
const openclawPrefix = '[openclaw] ';

/**
 * Why a program failed, on one line. openclaw prints its reason as `{"ok":false,"error":{"message"}}`
 * on stdout under --json and as a `[openclaw] Reason:` line on stderr followed by advice lines (so
 * the last stderr line is never the reason); its stderr-only failures and multica put the reason
 * first. Lines are joined with "; " (after a line ending in ":" with a space) and the whole bounded.
 */
export function failureReason(stdout: string, stderr: string): string {
  const lines = fromJson(stdout) ?? fromReasonLine(stderr) ?? leadingLines(stderr);
  let text = '';
  for (const raw of lines) {
    // Colour codes and other control characters would garble a report line or a terminal.
    const line = raw
      .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
      .replace(/[\x00-\x1f\x7f]/g, ' ')
      .trim();
    if (!line) continue;
    text += text === '' ? line : text.endsWith(':') ? ` ${line}` : `; ${line}`;
  }
  return text.length > maxReasonLength ? `${text.slice(0, maxReasonLength - 1)}…` : text;
}

function fromJson(stdout: string): string[] | undefined {
  const trimmed = stdout.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const doc = JSON.parse(trimmed) as { ok?: unknown; error?: { message?: unknown } };
    const message = doc?.ok === false ? doc.error?.message : undefined;
    return typeof message === 'string' && message.trim() ? message.split('\n') : undefined;
  } catch {
    return undefined;
  }
}

function fromReasonLine(stderr: string): string[] | undefined {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${openclawPrefix}Reason:`));
  if (at < 0) return undefined;
  // A reason with several lines runs up to the next `[openclaw] ` line.
  const end = lines.findIndex((l, i) => i > at && l.startsWith(openclawPrefix));
  const reason = lines.slice(at, end < 0 ? undefined : end);
  reason[0] = reason[0]!.slice(`${openclawPrefix}Reason:`.length);
  return reason;
}

/**
 * The first lines, up to an indented one (a stack trace, a list of commands to run) or a blank one.
 * A line ending in ":" after the first introduces advice ("If you use nvm, run:") and is dropped.
 */
function leadingLines(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.trim()) {
      if (out.length) break;
      continue;
    }
    const last = out.at(-1)?.trimEnd();
    if (last !== undefined && (/^\s/.test(line) || last.endsWith(':'))) {
      if (last.endsWith(':')) {
        if (out.length > 1) out.pop();
        else out.push(line);
      }
      break;
    }
    out.push(line);
  }
  return out;
}
