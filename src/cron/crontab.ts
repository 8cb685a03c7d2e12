// The crontab for the roster: one line per agent, the poll line, log files, in a marked block,
// written for cron's own environment (PATH=/usr/bin:/bin, SHELL=/bin/sh, nothing from the user's
// shell) and for the cron that will read it (Vixie cron ignores CRON_TZ, cronie honours it).
import type { ProcessResult, ProcessRunner } from '../process/runner.js';
import { accessSync, closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ConfigError, UnavailableError } from '../errors.js';
import type { Roster } from '../config/roster.js';
import { shellQuote } from '../shell-quote.js';

export const blockStart = '# >>> claw heartbeats (managed by `claw cron install`; edits inside this block are replaced) >>>';
export const blockEnd = '# <<< claw heartbeats <<<';

/** What cron does with a CRON_TZ line. */
export type CronKind = 'honours-tz' | 'ignores-tz';

/** An agent's line for a cron that ignores CRON_TZ (from hostSchedule in cron/schedule.ts). */
export type HostLine = { kind: 'same'; schedule: string } | { kind: 'translated'; schedule: string; why: string } | { kind: 'refused'; reason: string };

export interface CrontabOptions {
  /** How cron starts claw: the node binary and bin/claw, absolute, since cron's PATH is minimal. */
  claw: string[];
  logDir: string;
  /** Env lines, PATH first; written in the order given. */
  env: [string, string][];
  /** Comment lines after the header (what was found, which cron, the host's zone). */
  notes: string[];
  cron: CronKind;
  hostTz: string;
  /** For a cron that ignores CRON_TZ: each (schedule, tz) pair's line in the host's zone, by pairKey. */
  hostLines?: Map<string, HostLine>;
}

/** Vixie cron reads an env line into a 1000-byte buffer and a command into another. */
const maxLine = 999;

/**
 * The command part of a crontab line: each word quoted for sh, and `%` (which cron turns into a
 * newline and stdin) escaped as `\%`. A newline cannot be written at all; a backslash right before
 * a `%` would cancel the escape.
 */
export function cronCommand(words: string[]): string {
  for (const word of words) {
    if (/[\n\r\0]/.test(word)) throw new ConfigError(`cannot put ${JSON.stringify(word)} in a crontab line: it contains a newline; use a path without one`);
    if (word.includes('\\%'))
      throw new ConfigError(`cannot put ${JSON.stringify(word)} in a crontab line: cron reads "\\%" as an escape; use a path without "\\%"`);
  }
  return words.map(shellQuote).join(' ').replace(/%/g, '\\%');
}

/**
 * An env line. Cron does not shell-parse it: the value runs to the end of the line (trailing blanks
 * dropped), or sits between a pair of matching quotes, with no escapes.
 */
export function envLine(name: string, value: string): string {
  if (/[\n\r\0]/.test(value)) throw new ConfigError(`cannot write ${name} in a crontab: its value contains a newline`);
  let line: string;
  if (value !== '' && !/^['"]/.test(value) && !/\s/.test(value)) line = `${name}=${value}`;
  else if (!value.includes('"')) line = `${name}="${value}"`;
  else if (!value.includes("'")) line = `${name}='${value}'`;
  else throw new ConfigError(`cannot write ${name} in a crontab: its value has blanks and both kinds of quote (${JSON.stringify(value)})`);
  if (line.length > maxLine) throw new ConfigError(`cannot write ${name} in a crontab: the line would be ${line.length} characters, over cron's ${maxLine}`);
  return line;
}

const pairKey = (schedule: string, tz: string) => `${tz} ${schedule}`;

export function crontabBlock(roster: Roster, options: CrontabOptions): string {
  const lines = [blockStart, ...options.notes.map((n) => `# ${n.replace(/\s+/g, ' ')}`)];
  for (const [key, value] of options.env) lines.push(envLine(key, value));
  const job = (schedule: string, args: string[], log: string) => {
    const line = `${schedule} ${cronCommand([...options.claw, ...args])} >> ${cronCommand([join(options.logDir, log)])} 2>&1`;
    if (line.length > maxLine)
      throw new ConfigError(`a crontab line would be ${line.length} characters, over cron's ${maxLine}: use a shorter --log-dir or install path`);
    return line;
  };
  // The poll line is the same at every instant in every zone.
  lines.push(job('*/5 * * * *', ['poll'], 'poll.log'));
  const zones = [...new Set(roster.agents.map((a) => a.tz))];
  if (options.cron === 'honours-tz') {
    // CRON_TZ applies to the lines after it: group the agents by time zone.
    for (const tz of zones) {
      lines.push(envLine('CRON_TZ', tz));
      for (const agent of roster.agents.filter((a) => a.tz === tz)) lines.push(job(agent.schedule, ['heartbeat', agent.id], `${agent.id}.log`));
    }
    // Lines below the block keep the host's zone.
    lines.push(envLine('CRON_TZ', options.hostTz));
  } else {
    const refused = roster.agents.filter((a) => options.hostLines?.get(pairKey(a.schedule, a.tz))?.kind === 'refused');
    if (refused.length > 0) {
      const first = refused[0]!;
      const line = options.hostLines!.get(pairKey(first.schedule, first.tz)) as { reason: string };
      throw new ConfigError(
        `${refused.map((a) => a.id).join(', ')}: "${first.schedule}" in ${first.tz} would fire at the wrong time: this cron ignores CRON_TZ and runs every line in ${options.hostTz}, and ${line.reason}`,
      );
    }
    for (const tz of zones) {
      const agents = roster.agents.filter((a) => a.tz === tz);
      const hostLine = (agent: (typeof agents)[number]) =>
        options.hostLines?.get(pairKey(agent.schedule, agent.tz)) ?? { kind: 'same' as const, schedule: agent.schedule };
      const same = [...new Set(agents.filter((a) => hostLine(a).kind === 'same').map((a) => `"${a.schedule}"`))];
      if (tz !== options.hostTz && same.length > 0)
        lines.push(`# ${tz}: ${same.join(', ')} fire${same.length === 1 ? 's' : ''} at the same instants in ${options.hostTz}`);
      for (const agent of agents) {
        const host = hostLine(agent);
        if (host.kind === 'refused') continue;
        if (host.kind === 'translated') lines.push(`# ${agent.id}: "${agent.schedule}" in ${tz} is "${host.schedule}" in ${options.hostTz} (${host.why})`);
        lines.push(job(host.schedule, ['heartbeat', agent.id], `${agent.id}.log`));
      }
    }
  }
  lines.push(blockEnd);
  return `${lines.join('\n')}\n`;
}

/** The job lines of a block (not comments, not env lines). */
export function jobLines(block: string): string[] {
  return block.split('\n').filter((l) => /^(@\w+|\S+ \S+ \S+ \S+ \S+) /.test(l) && !l.startsWith('#') && !/^[A-Za-z_][\w]*\s*=/.test(l));
}

// --- cron's PATH -------------------------------------------------------------------------------

export interface FileProbe {
  isExecutable(path: string): boolean;
  /** The first bytes of the file ('' when unreadable). */
  head(path: string): string;
}

export const realFiles: FileProbe = {
  isExecutable(path) {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  head(path) {
    try {
      const fd = openSync(path, 'r');
      try {
        const buffer = Buffer.alloc(256);
        return buffer.toString('utf8', 0, readSync(fd, buffer, 0, 256, 0));
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  },
};

/** The first `name` on PATH, as sh and env would find it. */
export function which(name: string, path: string, files: FileProbe): string | undefined {
  if (name.includes('/')) return files.isExecutable(name) ? name : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir === '' || !dir.startsWith('/')) continue;
    const full = join(dir, name);
    if (files.isExecutable(full)) return full;
  }
  return undefined;
}

/** `#!/usr/bin/env node` (or `env -S node ...`) names the program env looks up on PATH. */
export function envInterpreter(head: string): string | undefined {
  const shebang = /^#!\s*(\S+)(.*)$/m.exec(head.split('\n')[0] ?? '');
  if (!shebang || !/(^|\/)env$/.test(shebang[1]!)) return undefined;
  const words = shebang[2]!
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '-S' && !/^\w+=/.test(w));
  return words[0];
}

export interface CronPath {
  dirs: string[];
  found: { program: string; path: string; interpreter?: string }[];
  missing: string[];
  /** Problems the PATH cannot fix (a program or interpreter that would resolve differently under it). */
  warnings: string[];
}

/**
 * The PATH for cron's lines: for each program claw runs (openclaw, multica, the roster's dispatch
 * and notify commands), the dir of the interpreter its `#!/usr/bin/env X` line picks on the user's
 * PATH, then its own dir; then the dir of the node that runs claw; then /usr/bin:/bin.
 */
export function cronPath(programs: string[], userPath: string, clawNode: string, files: FileProbe = realFiles): CronPath {
  const dirs: string[] = [];
  const add = (dir: string) => {
    if (!dirs.includes(dir)) dirs.push(dir);
  };
  const found: CronPath['found'] = [];
  const missing: string[] = [];
  for (const program of [...new Set(programs)]) {
    if (program.includes('/')) continue;
    const path = which(program, userPath, files);
    if (!path) {
      missing.push(program);
      continue;
    }
    const interpreterName = envInterpreter(files.head(path));
    const interpreter = interpreterName ? which(interpreterName, userPath, files) : undefined;
    if (interpreter) add(dirname(interpreter));
    add(dirname(path));
    found.push({ program, path, ...(interpreter ? { interpreter } : {}) });
  }
  add(dirname(clawNode));
  add('/usr/bin');
  add('/bin');
  for (const dir of dirs) {
    if (/[:\n\r\0]/.test(dir))
      throw new ConfigError(
        `cannot put ${JSON.stringify(dir)} on cron's PATH: a PATH entry cannot hold ":" or a newline; install it in a dir without one or link it from one`,
      );
  }
  const path = dirs.join(delimiter);
  const warnings: string[] = [];
  for (const f of found) {
    const there = which(f.program, path, files);
    if (there !== f.path) warnings.push(`under this PATH ${f.program} is ${there}, not ${f.path}`);
    const name = envInterpreter(files.head(f.path));
    if (name && f.interpreter && which(name, path, files) !== f.interpreter) {
      warnings.push(`under this PATH ${f.program} would run ${which(name, path, files)}, not ${f.interpreter}`);
    }
  }
  return { dirs, found, missing, warnings };
}

// --- which cron, which zone ----------------------------------------------------------------------

export interface CronHost {
  /** Dirs of running processes: /proc. */
  procDir: string;
  exists(path: string): boolean;
  readlink(path: string): string | undefined;
  readFile(path: string): string | undefined;
  realpath(path: string): string | undefined;
}

export const realHost: CronHost = {
  procDir: '/proc',
  exists: (path) => {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  readlink: (path) => {
    try {
      return readlinkSync(path);
    } catch {
      return undefined;
    }
  },
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  realpath: (path) => {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  },
};

const isBusybox = (host: CronHost, path: string) => /busybox/.test(host.realpath(path) ?? path);

/** The cron daemon running now: crond (cronie, unless busybox's) or cron (Vixie); 'none'; undefined when the process list cannot be read. */
export function runningCron(host: CronHost = realHost): { kind: CronKind; why: string } | 'none' | undefined {
  let names: string[];
  try {
    names = readdirSync(host.procDir).filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  let vixie = false;
  for (const pid of names) {
    const comm = host.readFile(join(host.procDir, pid, 'comm'))?.trim();
    if (comm === 'crond') {
      const exe = host.readlink(join(host.procDir, pid, 'exe'));
      if (exe && /busybox/.test(exe)) return { kind: 'ignores-tz', why: 'busybox crond is running' };
      return { kind: 'honours-tz', why: 'crond (cronie) is running' };
    }
    if (comm === 'cron') vixie = true;
  }
  return vixie ? { kind: 'ignores-tz', why: 'cron (Vixie cron, as Debian and Ubuntu ship) is running' } : 'none';
}

/**
 * Which cron reads the crontab: a running `crond` is cronie (honours CRON_TZ) unless it is
 * busybox's; a running `cron` is Vixie cron (Debian, Ubuntu: ignores it). With none running, the
 * installed binaries say. Unknown counts as ignoring CRON_TZ: lines written for that fire right
 * under either kind, as long as cron runs in the host's zone.
 */
export function detectCron(host: CronHost = realHost): { kind: CronKind; why: string } {
  const running = runningCron(host);
  if (typeof running === 'object') return running;
  for (const crond of ['/usr/sbin/crond', '/sbin/crond', '/usr/bin/crond']) {
    if (host.exists(crond) && !isBusybox(host, crond)) return { kind: 'honours-tz', why: `no cron is running; ${crond} (cronie) is installed` };
  }
  for (const cron of ['/usr/sbin/cron', '/sbin/cron']) {
    if (host.exists(cron)) return { kind: 'ignores-tz', why: `no cron is running; ${cron} (Vixie cron) is installed` };
  }
  return { kind: 'ignores-tz', why: 'no cron found; lines are written for one that ignores CRON_TZ (right for either kind)' };
}

/** The block's header note saying which cron it was written for (and, for one that ignores CRON_TZ, the zone its lines fire in). */
export function cronKindNote(kind: CronKind, hostZone: string): string {
  return kind === 'honours-tz'
    ? `written for a cron that honours CRON_TZ (cronie): each agent's lines run in its own zone`
    : `written for a cron that ignores CRON_TZ (Debian/Ubuntu cron): every line fires in ${hostZone}, the host's zone`;
}

/** What cronKindNote() wrote in a block's header; undefined for a block without one (written by an older claw). */
export function blockWrittenFor(block: string): { kind: CronKind; hostZone?: string } | undefined {
  if (block.includes('# written for a cron that honours CRON_TZ')) return { kind: 'honours-tz' };
  const m = /^# written for a cron that ignores CRON_TZ .*: every line fires in (\S+), the host's zone$/m.exec(block);
  return m ? { kind: 'ignores-tz', hostZone: m[1]! } : undefined;
}

/**
 * The zone cron fires in: the system's (/etc/localtime, /etc/timezone), not the user's TZ, since
 * the daemon does not inherit the user's shell; TZ and then the process's zone only when the files
 * say nothing.
 */
export function hostTimeZone(env: NodeJS.ProcessEnv, host: CronHost = realHost): { zone: string; from: string } {
  const link = host.readlink('/etc/localtime');
  const linked = link ? /zoneinfo\/(?:posix\/|right\/)?(.+)$/.exec(link)?.[1] : undefined;
  if (linked && validZone(linked)) return { zone: linked, from: '/etc/localtime' };
  const file = host.readFile('/etc/timezone')?.trim();
  if (file && validZone(file)) return { zone: file, from: '/etc/timezone' };
  const tz = env.TZ?.replace(/^:/, '');
  if (tz && validZone(tz)) return { zone: tz, from: 'TZ' };
  return { zone: Intl.DateTimeFormat().resolvedOptions().timeZone, from: "the process's zone" };
}

export function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

// --- the user's crontab -------------------------------------------------------------------------

/** Replaces the marked block in a crontab, or appends it; everything else is kept as it was. */
export function replaceBlock(crontab: string, block: string): string {
  const start = crontab.indexOf(blockStart);
  const end = crontab.indexOf(blockEnd);
  if (start >= 0 && end > start) {
    const after = crontab.slice(end + blockEnd.length).replace(/^\n/, '');
    return `${crontab.slice(0, start)}${block}${after}`;
  }
  const base = crontab === '' || crontab.endsWith('\n') ? crontab : `${crontab}\n`;
  return `${base}${block}`;
}

/** crontab -l and crontab - end in milliseconds; this bounds a hung one (a stuck NFS home, say). */
const crontabTimeoutMs = 30_000;

/** The user's crontab as it is, secrets included ('' when there is none yet): install writes it back. */
export async function readCrontab(runner: ProcessRunner, env: NodeJS.ProcessEnv): Promise<string> {
  const result = await runner.run(['crontab', '-l'], { env, timeoutMs: crontabTimeoutMs, secrets: [] });
  if (result.spawnError?.code === 'ENOENT')
    throw new UnavailableError('crontab not found on PATH: install cron (apt-get install cron) or use `claw cron print`');
  if (result.code === 0) return result.stdout;
  if (/no crontab/i.test(result.stderr)) return '';
  throw new UnavailableError(`crontab -l failed: ${crontabFailure(result)}`);
}

export async function writeCrontab(runner: ProcessRunner, env: NodeJS.ProcessEnv, text: string): Promise<void> {
  const result = await runner.run(['crontab', '-'], { env, timeoutMs: crontabTimeoutMs, input: text, secrets: [] });
  if (result.code !== 0) throw new UnavailableError(`crontab - failed: ${crontabFailure(result)}`);
}

function crontabFailure(result: ProcessResult): string {
  if (result.spawnError) return result.spawnError.message;
  if (result.timedOut) return `timed out after ${crontabTimeoutMs / 1000}s`;
  return result.stderr.trim() || `exit ${result.code ?? result.signal}`;
}
