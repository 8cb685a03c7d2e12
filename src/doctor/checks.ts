// `claw doctor`: checks a host end to end. Every check says ok, warn or fail, and how to fix what
// is not ok. The outside world (processes, the SQLite runtime, Redis, /proc, the clock) comes in
// through DoctorDeps so tests can pass their own; the file system is read directly.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join } from 'node:path';
import { ClawError, ExitCode } from '../errors.js';
import { gatewayConfigs, loadConfig, type ClawConfig } from '../config/config.js';
import { heartbeatsDir, stateDir } from '../config/paths.js';
import { loadRoster, type AgentSpec, type Roster } from '../config/roster.js';
import { findGateway, providerOf } from '../limiter/gateways.js';
import { findDocs } from '../sources/docs.js';
import { blockEnd, blockStart, blockWrittenFor, type CronKind } from '../cron/crontab.js';
import { redactStoreUrl } from '../store/open.js';
import { workboardPath } from '../sources/workboard-db.js';
import type { ProcessResult } from '../proc.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or a fail; null when ok. */
  fix: string | null;
  /** The exit code a fail stands for: 78 config, 69 unavailable (70 only for a bug in claw). */
  code?: number;
}

export interface SqliteRuntime {
  driver: 'node:sqlite' | 'better-sqlite3';
  sqliteVersion: string;
}

export interface RedisProbe {
  reachable: boolean;
  /** Why it could not be reached (no password in it). */
  error?: string;
  version?: string;
  /** appendonly from CONFIG GET, else aof_enabled from INFO persistence; undefined when unknown. */
  aof?: boolean;
  /** CONFIG GET save ('' = no RDB snapshots); undefined when CONFIG was refused. */
  save?: string;
  /** Why CONFIG GET was refused, when it was. */
  configRefused?: string;
}

export interface DoctorDeps {
  env: NodeJS.ProcessEnv;
  cwd: string;
  now(): number;
  /** process.version of the Node running claw. */
  nodeVersion: string;
  /** The SQLite driver claw uses and its library version; throws (with the fix) when there is no safe one. */
  sqliteRuntime(): SqliteRuntime;
  isSafeSqliteVersion(version: string): boolean;
  /** Runs a program with a timeout (the injected ProcessRunner's run, src/process/runner.ts). */
  run(argv: string[], options: { env: NodeJS.ProcessEnv; timeoutMs: number; secrets?: readonly string[] }): Promise<ProcessResult>;
  /** Opens the SQLite store in `dir` the way every command does, reads its clock, closes it. */
  openSqliteStore(dir: string): Promise<{ location: string }>;
  probeRedis(url: string, timeoutMs: number): Promise<RedisProbe>;
  /**
   * What `claw cron print` would print now for this roster (the same code), written for the cron
   * and host zone the installed block was written for when it says (else detected as print does).
   */
  expectedCronBlock(roster: Roster, writtenFor?: BlockTarget): Promise<string>;
  /** The cron daemon running now (runningCron in cron/crontab.ts): 'none', or undefined when the process list is unreadable. */
  runningCron(): { kind: CronKind; why: string } | 'none' | undefined;
  /** The zone cron fires in (hostTimeZone in cron/crontab.ts: the system's, not the user's TZ). */
  hostTimeZone(): { zone: string; from: string };
  stateDirFlag?: string;
  heartbeatsDirFlag?: string;
}

/** Which cron a block was written for, from its header (blockWrittenFor). */
export type BlockTarget = { kind: CronKind; hostZone?: string };

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
  exitCode: number;
}

/** `openclaw --version` can take 10+ s on a real host (the CLI's start-up). */
export const versionTimeoutMs = 30_000;
const crontabTimeoutMs = 10_000;
const redisTimeoutMs = 2_000;
/** What Debian/Vixie cron gives a job when the crontab sets no PATH. */
export const cronDefaultPath = '/usr/bin:/bin';

const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail, fix: null });
const warn = (name: string, detail: string, fix: string): Check => ({ name, status: 'warn', detail, fix });
const fail = (name: string, detail: string, fix: string, code: number): Check => ({ name, status: 'fail', detail, fix, code });

/** Config problems come first: 78 wins over 69 (and 70, a bug in claw, over both). */
const severity = [ExitCode.internal, ExitCode.config, ExitCode.unavailable];

export function exitCodeOf(checks: Check[]): number {
  const codes = checks.filter((c) => c.status === 'fail').map((c) => c.code ?? ExitCode.unavailable);
  if (codes.length === 0) return ExitCode.ok;
  return severity.find((code) => codes.includes(code)) ?? codes[0]!;
}

// ---- runtime ----------------------------------------------------------------------------------

export function nodeCheck(version: string): Check {
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
  if (major === 24 || major === 22) return ok('node', `Node ${version}`);
  if (major === 20) {
    return warn('node', `Node ${version}: Node 20 reached end of life on 2026-04-30`, 'install Node 24 (nvm install 24 && nvm use 24) and run claw with it');
  }
  if (major < 20)
    return fail('node', `Node ${version} is too old for claw (it needs 20, 22 or 24)`, 'install Node 24 (nvm install 24 && nvm use 24)', ExitCode.unavailable);
  return warn('node', `Node ${version} is not a line claw is tested on (24, 22, 20)`, 'use Node 24 (nvm install 24 && nvm use 24)');
}

export function sqliteCheck(deps: Pick<DoctorDeps, 'sqliteRuntime' | 'isSafeSqliteVersion'>): Check {
  let runtime: SqliteRuntime;
  try {
    runtime = deps.sqliteRuntime();
  } catch (err) {
    return fail(
      'sqlite',
      `no usable SQLite driver: ${withoutFix(err)}`,
      fixOf(err, 'reinstall claw under this Node (npm ci), or use Node 24 (node:sqlite)'),
      ExitCode.unavailable,
    );
  }
  const detail = `${runtime.driver}, SQLite ${runtime.sqliteVersion}`;
  if (!deps.isSafeSqliteVersion(runtime.sqliteVersion)) {
    return fail(
      'sqlite',
      `${detail} has the WAL-reset corruption bug (3.7.0 to 3.51.2) that strikes when many processes share one database`,
      'use Node 24 (its node:sqlite has SQLite 3.53) or a better-sqlite3 that bundles SQLite >= 3.51.3',
      ExitCode.unavailable,
    );
  }
  return ok('sqlite', detail);
}

// ---- store ------------------------------------------------------------------------------------

function modeText(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}

export function stateDirChecks(dir: string): Check[] {
  if (!existsSync(dir)) return [ok('state dir', `${dir} (not created yet: the first claw run makes it, mode 700)`)];
  const stat = statSync(dir);
  if (!stat.isDirectory())
    return [fail('state dir', `${dir} is not a directory`, `move it aside or point CLAW_STATE_DIR (or --state-dir) elsewhere`, ExitCode.unavailable)];
  const checks: Check[] = [];
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    checks.push(
      stat.mode & 0o022
        ? warn('state dir', `${dir} is writable by other users (mode ${modeText(stat.mode)})`, `chmod 700 ${dir}`)
        : ok('state dir', `${dir} (mode ${modeText(stat.mode)})`),
    );
  } catch {
    checks.push(
      fail('state dir', `${dir} is not writable by this user`, `chown -R $(id -un) ${dir} (or point CLAW_STATE_DIR elsewhere)`, ExitCode.unavailable),
    );
  }
  const loose: string[] = [];
  const readOnly: string[] = [];
  for (const name of ['claw.db', 'claw.db-wal', 'claw.db-shm']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode;
    if (mode & 0o077) loose.push(`${name} ${modeText(mode)}`);
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch {
      readOnly.push(name);
    }
  }
  if (readOnly.length > 0) {
    checks.push(
      fail('state file modes', `${readOnly.join(', ')} in ${dir} not writable by this user`, `chown $(id -un) ${dir}/claw.db*`, ExitCode.unavailable),
    );
  } else if (loose.length > 0) {
    checks.push(warn('state file modes', `other users can read or write the state (${loose.join(', ')})`, `chmod 600 ${dir}/claw.db*`));
  } else {
    checks.push(ok('state file modes', existsSync(join(dir, 'claw.db')) ? 'claw.db* are 600' : 'no state file yet'));
  }
  return checks;
}

function selectedStore(env: NodeJS.ProcessEnv, config: ClawConfig): string {
  return env.CLAW_STORE || config.store || 'sqlite';
}

export async function storeCheck(deps: DoctorDeps, config: ClawConfig): Promise<Check> {
  const selected = selectedStore(deps.env, config);
  if (/^rediss?:\/\//i.test(selected)) return ok('store', `redis ${redactStoreUrl(selected)} (prefix ${config.storePrefix ?? 'claw:'}): see the redis checks`);
  if (selected !== 'sqlite') {
    return fail(
      'store',
      `unknown store "${redactStoreUrl(selected)}"`,
      'use "sqlite" or redis://[user:pass@]host:port[/db] (CLAW_STORE or `claw config set store`)',
      ExitCode.config,
    );
  }
  const dir = stateDir(deps.env, deps.stateDirFlag);
  try {
    const { location } = await deps.openSqliteStore(dir);
    return ok('store', `sqlite ${location} opens`);
  } catch (err) {
    const code = err instanceof ClawError ? codeOf(err) : ExitCode.unavailable;
    return fail('store', `sqlite store in ${dir} does not open: ${withoutFix(err)}`, fixOf(err, 'see the message (`claw status` fails the same way)'), code);
  }
}

// ---- config and roster ------------------------------------------------------------------------

export function configCheck(env: NodeJS.ProcessEnv, file: string): { check: Check; config: ClawConfig } {
  try {
    const config = loadConfig(env);
    return { check: ok('config', existsSync(file) ? `${file} is valid` : `${file} (none: defaults)`), config };
  } catch (err) {
    return { check: fail('config', oneLine(err), `fix ${file} (\`claw config set\`, \`claw config unset\`, or edit it)`, codeOf(err)), config: {} };
  }
}

export async function rosterCheck(deps: DoctorDeps, config: ClawConfig): Promise<{ check: Check; roster?: Roster }> {
  const dir = heartbeatsDir(deps.env, config, deps.cwd, deps.heartbeatsDirFlag);
  try {
    // A fresh schedule book: every schedule and time zone is checked with cron-parser.
    const roster = await loadRoster(dir, { pairs: {}, changed: false }, deps.now());
    if (roster.agents.length === 0)
      return { check: warn('roster', `${dir} has no agents`, `add <agent>.json files to ${dir} (see the README: The roster)`), roster };
    return { check: ok('roster', `${roster.agents.length} agents in ${dir}`), roster };
  } catch (err) {
    const file = /^(\S+\.json):/.exec(oneLine(err))?.[1];
    return {
      check: fail(
        'roster',
        oneLine(err),
        file ? `fix ${file}` : `pass --heartbeats-dir, set CLAW_HEARTBEATS_DIR or \`claw config set heartbeatsDir <dir>\``,
        codeOf(err),
      ),
    };
  }
}

// ---- per agent --------------------------------------------------------------------------------

export function agentCheck(agent: AgentSpec): Check {
  const name = `agent ${agent.id}`;
  try {
    accessSync(agent.workspace, constants.R_OK | constants.X_OK);
  } catch {
    return fail(name, `workspace ${agent.workspace} is missing or unreadable`, `create it or fix "workspace" in ${agent.file}`, ExitCode.config);
  }
  const docs = findDocs(agent.workspace, agent.docs);
  if (docs.length === 0) {
    return warn(
      name,
      `workspace ${agent.workspace}: no todo docs match ${agent.docs.join(', ')}`,
      `create one (e.g. ${join(agent.workspace, 'TODO.md')}) or fix "docs" in ${agent.file}`,
    );
  }
  const shown = docs.slice(0, 3).join(', ') + (docs.length > 3 ? `, +${docs.length - 3} more` : '');
  return ok(name, `workspace ${agent.workspace}, ${docs.length} todo doc${docs.length === 1 ? '' : 's'} (${shown})`);
}

/** The executables each agent's heartbeat starts, and what for. */
export function neededExecutables(agents: AgentSpec[]): Map<string, { agents: string[]; uses: Set<string> }> {
  const needed = new Map<string, { agents: string[]; uses: Set<string> }>();
  const add = (exe: string | undefined, agent: string, use: string) => {
    if (!exe) return;
    const entry = needed.get(exe) ?? { agents: [], uses: new Set<string>() };
    if (!entry.agents.includes(agent)) entry.agents.push(agent);
    entry.uses.add(use);
    needed.set(exe, entry);
  };
  for (const agent of agents) {
    if (agent.multica) add('multica', agent.id, 'multica issues');
    if (agent.workboard) add('openclaw', agent.id, 'workboard');
    add(agent.dispatch[0], agent.id, 'dispatch');
    add(agent.notify?.[0], agent.id, 'notify');
  }
  return needed;
}

/** Where `name` resolves on `path`, as `execvp` would find it; absolute names are taken as they are. */
export function findExecutable(name: string, path: string | undefined): string | undefined {
  const candidates =
    isAbsolute(name) || name.includes('/')
      ? [name]
      : (path ?? '')
          .split(delimiter)
          .filter((d) => isAbsolute(d))
          .map((d) => join(d, name));
  for (const file of candidates) {
    try {
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return file;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

function whoNeeds(entry: { agents: string[]; uses: Set<string> }): string {
  const list = entry.agents.length > 4 ? `${entry.agents.slice(0, 4).join(', ')} and ${entry.agents.length - 4} more` : entry.agents.join(', ');
  return `${[...entry.uses].join(', ')} of ${list}`;
}

function installHint(name: string): string {
  if (name === 'openclaw') return 'install it (npm install -g openclaw)';
  if (name === 'multica') return 'install the multica CLI';
  return `install ${name}`;
}

interface PathContext {
  label: string;
  path: string;
  env: NodeJS.ProcessEnv;
  /** Said of the PATH in a detail, e.g. "cron's default /usr/bin:/bin (the crontab sets no PATH)". */
  describe: string;
  /** How to change that PATH. */
  fixPath: (dir: string) => string;
}

async function executableCheck(
  deps: DoctorDeps,
  name: string,
  entry: { agents: string[]; uses: Set<string> },
  where: PathContext,
  versions: Map<string, Promise<ProcessResult>>,
): Promise<Check> {
  const checkName = `${name}${where.label}`;
  const found = findExecutable(name, where.path);
  if (!found) {
    const alsoHere = where.label ? findExecutable(name, deps.env.PATH) : undefined;
    return fail(
      checkName,
      `${name} not found on ${where.describe}; needed for ${whoNeeds(entry)}`,
      alsoHere ? where.fixPath(dirOf(alsoHere)) : `${installHint(name)}, or add its directory to ${where.label ? 'that PATH' : 'PATH'}`,
      ExitCode.unavailable,
    );
  }
  if (basename(name) !== 'openclaw') return ok(checkName, `${found}; needed for ${whoNeeds(entry)}`);
  // openclaw starts with `#!/usr/bin/env node`: whether it runs depends on the first node on that PATH.
  const key = `${found}\0${where.path}`;
  if (!versions.has(key)) versions.set(key, deps.run([found, '--version'], { env: where.env, timeoutMs: versionTimeoutMs }));
  const result = await versions.get(key)!;
  const output = `${result.stdout}\n${result.stderr}`;
  const version = /OpenClaw\s+(\S+)/.exec(result.stdout)?.[1];
  if (result.code === 0 && !result.timedOut && !result.spawnError) {
    return ok(checkName, `${found} (OpenClaw ${version ?? result.stdout.trim().split('\n')[0]}); needed for ${whoNeeds(entry)}`);
  }
  if (result.timedOut) {
    return fail(
      checkName,
      `\`${found} --version\` did not finish in ${versionTimeoutMs / 1000}s`,
      'run it by hand to see where it hangs',
      ExitCode.unavailable,
    );
  }
  const nodeLine = /^openclaw: Node .*$/m.exec(output)?.[0];
  if (nodeLine) {
    return fail(
      checkName,
      `\`${found} --version\` fails: ${nodeLine}`,
      `openclaw runs under the first node on ${where.label ? 'that PATH' : 'PATH'}: put Node >= 24.16 first there (nvm install 24${where.label ? `; then ${where.fixPath('<its bin dir>')}` : ' && nvm use 24'})`,
      ExitCode.unavailable,
    );
  }
  const reason = firstReason(result);
  return fail(
    checkName,
    `\`${found} --version\` fails: ${reason}`,
    `run \`${found} --version\` by hand and fix what it says (reinstall: npm install -g openclaw)`,
    ExitCode.unavailable,
  );
}

function dirOf(file: string): string {
  return file.slice(0, file.lastIndexOf('/')) || '/';
}

function firstReason(result: ProcessResult): string {
  if (result.spawnError) return result.spawnError.message;
  const line = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return `exit ${result.code ?? result.signal}${line ? `: ${line.slice(0, 200)}` : ''}`;
}

// ---- gateways ---------------------------------------------------------------------------------

export function gatewayChecks(env: NodeJS.ProcessEnv, config: ClawConfig, roster: Roster | undefined): Check[] {
  const configs = gatewayConfigs(config);
  const users = new Map<string, string[]>();
  const use = (name: string, agent?: string) => {
    const list = users.get(name) ?? [];
    if (agent && !list.includes(agent)) list.push(agent);
    users.set(name, list);
  };
  for (const agent of roster?.agents ?? []) {
    for (const model of [agent.model, agent.fallbackModel]) {
      if (!model) continue;
      const found = findGateway(configs, providerOf(model));
      if (found) use(found[0], agent.id);
    }
  }
  for (const name of Object.keys(config.gateways ?? {})) use(name);
  const checks: Check[] = [];
  for (const [name, agents] of [...users.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const gateway = configs[name]!;
    if (!gateway.baseUrl) continue;
    const variable = gateway.apiKeyEnv ?? `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_API_KEY`;
    const usedBy = agents.length > 0 ? `used by ${agents.length} agent${agents.length === 1 ? '' : 's'}` : 'configured';
    // Only whether the variable is set: its value is never read into a message.
    if ((env[variable] ?? '').trim() === '') {
      checks.push(
        fail(
          `gateway ${name}`,
          `${variable} is not set (${usedBy}; \`claw call\` to ${gateway.baseUrl} needs it)`,
          `export ${variable}=<key> in the environment claw runs in, or point gateways.${name}.apiKeyEnv at the variable that holds it`,
          ExitCode.config,
        ),
      );
    } else {
      checks.push(ok(`gateway ${name}`, `${variable} is set (${usedBy}; ${gateway.baseUrl})`));
    }
  }
  return checks;
}

// ---- cron -------------------------------------------------------------------------------------

export interface ParsedBlock {
  /** `heartbeat coo` / `poll` -> `<schedule> [tz]`. */
  jobs: Map<string, string>;
  env: Record<string, string>;
  /** The zones the CRON_TZ lines give jobs. */
  cronTzZones: Set<string>;
  /** The command prefix of the first job (what starts claw), split into words. */
  command?: string[];
}

const envLine = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

function unquote(value: string): string {
  const m = /^(['"])(.*)\1$/.exec(value);
  return m ? m[2]! : value;
}

function shellWords(text: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return words;
}

/** The claw block of a crontab (between the markers), or undefined when it has none. */
export function installedBlock(crontab: string): string | undefined {
  const start = crontab.indexOf(blockStart);
  const end = crontab.indexOf(blockEnd, start);
  return start >= 0 && end > start ? crontab.slice(start, end + blockEnd.length) : undefined;
}

/** A block's jobs: each with the zone it fires in (its CRON_TZ, or for a block written for a cron that ignores CRON_TZ, the host zone it names). */
export function parseBlock(block: string): ParsedBlock {
  const parsed: ParsedBlock = { jobs: new Map(), env: {}, cronTzZones: new Set() };
  let tz: string | undefined = blockWrittenFor(block)?.hostZone;
  let cronTz: string | undefined;
  for (const raw of block.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const assignment = envLine.exec(line);
    if (assignment) {
      const value = unquote(assignment[2]!);
      if (assignment[1] === 'CRON_TZ' || assignment[1] === 'TZ') tz = cronTz = value;
      else parsed.env[assignment[1]!] = value;
      continue;
    }
    const job = /^(@\w+|\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+(.*)$/.exec(line);
    if (!job) continue;
    const command = job[2]!.replace(/\s*>>.*$/, '');
    const sub = /\s(heartbeat\s+\S+|poll)(?:\s|$)/.exec(` ${command}`);
    if (!sub) continue;
    parsed.jobs.set(sub[1]!.replace(/\s+/, ' '), `${job[1]}${tz ? ` ${tz}` : ''}`);
    if (cronTz) parsed.cronTzZones.add(cronTz);
    parsed.command ??= shellWords(` ${command}`.slice(0, sub.index));
  }
  return parsed;
}

/**
 * The PATH cron gives the block's jobs: the last PATH= line above its first job (claw writes one
 * in the block; `fromBlock` says it is that one), else cron's default.
 */
export function cronPathOf(crontab: string): { path: string; fromCrontab: boolean; fromBlock: boolean } {
  const lines = crontab.split('\n');
  const start = lines.findIndex((l) => l.trim() === blockStart);
  let path: string | undefined;
  let fromBlock = false;
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const assignment = envLine.exec(line);
    if (assignment) {
      if (assignment[1] === 'PATH') {
        path = unquote(assignment[2]!);
        fromBlock = start >= 0 && i > start;
      }
    } else if (start >= 0 && i > start) break; // the block's first job: later PATH lines do not apply to it
  }
  return path === undefined ? { path: cronDefaultPath, fromCrontab: false, fromBlock: false } : { path, fromCrontab: true, fromBlock };
}

export async function readCrontabText(deps: DoctorDeps): Promise<{ text?: string; check?: Check }> {
  // Read as it is (the store URL's password included) to compare it with the block claw would write;
  // nothing read here is printed unredacted (claw's own output is redacted as it is written).
  const result = await deps.run(['crontab', '-l'], { env: deps.env, timeoutMs: crontabTimeoutMs, secrets: [] });
  if (result.spawnError?.code === 'ENOENT') {
    return {
      check: fail(
        'crontab',
        'crontab not found on PATH',
        'install cron (apt-get install cron; dnf install cronie), or run the fleet another way (`claw cron print` shows the lines)',
        ExitCode.unavailable,
      ),
    };
  }
  if (result.code === 0) return { text: result.stdout };
  if (/no crontab/i.test(result.stderr)) return { text: '' };
  return { check: fail('crontab', `crontab -l failed: ${firstReason(result)}`, 'run `crontab -l` by hand and fix what it says', ExitCode.unavailable) };
}

function describeEnvValue(key: string, value: string | undefined): string {
  if (value === undefined) return 'unset';
  return key === 'CLAW_STORE' ? redactStoreUrl(value) : value;
}

export function crontabCheck(crontab: string, expected: string | undefined): Check {
  const block = installedBlock(crontab);
  if (!block) return warn('crontab', 'the claw block is not installed in your crontab', 'run `claw cron install` (see `claw cron print` first)');
  const installed = parseBlock(block);
  const problems: string[] = [];
  for (const word of installed.command ?? []) {
    if (isAbsolute(word) && !existsSync(word)) problems.push(`it runs ${word}, which no longer exists`);
  }
  if (expected === undefined) {
    if (problems.length > 0)
      return fail('crontab', `the installed claw block is stale: ${problems.join('; ')}`, 'run `claw cron install`', ExitCode.unavailable);
    return warn(
      'crontab',
      `the claw block is installed (${installed.jobs.size} jobs) but cannot be compared with an invalid roster`,
      'fix the roster, then run `claw cron install`',
    );
  }
  const wanted = parseBlock(expected);
  const missing = [...wanted.jobs].filter(([job]) => !installed.jobs.has(job)).map(([job, when]) => `${job} (${when})`);
  const extra = [...installed.jobs.keys()].filter((job) => !wanted.jobs.has(job));
  const changed = [...wanted.jobs]
    .filter(([job, when]) => installed.jobs.has(job) && installed.jobs.get(job) !== when)
    .map(([job, when]) => `${job} runs at ${installed.jobs.get(job)}, the roster says ${when}`);
  if (missing.length > 0) problems.push(`missing ${missing.join(', ')}`);
  if (extra.length > 0) problems.push(`not in the roster: ${extra.join(', ')}`);
  problems.push(...changed);
  for (const key of new Set([...Object.keys(wanted.env), ...Object.keys(installed.env)].filter((k) => k.startsWith('CLAW_')))) {
    if (wanted.env[key] !== installed.env[key])
      problems.push(`${key} is ${describeEnvValue(key, installed.env[key])}, now ${describeEnvValue(key, wanted.env[key])}`);
  }
  if (problems.length > 0) {
    const code = problems.some((p) => p.includes('no longer exists')) ? ExitCode.unavailable : ExitCode.config;
    return fail('crontab', `the installed claw block does not match \`claw cron print\`: ${problems.join('; ')}`, 'run `claw cron install`', code);
  }
  return ok('crontab', `the claw block is installed and matches the roster (${installed.jobs.size} jobs)`);
}

function sameZone(a: string, b: string): boolean {
  const canonical = (tz: string) => {
    try {
      const name = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
      return /^(Etc\/)?(UTC|UCT|GMT|Universal|Zulu)$/.test(name) ? 'UTC' : name;
    } catch {
      return tz;
    }
  };
  return canonical(a) === canonical(b);
}

/** Which cron the installed block was written for: its header says; a block without one (an older claw) had CRON_TZ lines when it has any. */
export function blockTarget(block: string): BlockTarget | undefined {
  return blockWrittenFor(block) ?? (/^\s*CRON_TZ\s*=/m.test(block) ? { kind: 'honours-tz' } : undefined);
}

/**
 * The cron that runs against the block claw installed: `claw cron install` writes the block for
 * one cron (its header says which) and one host zone, so the block is right when that cron runs
 * and, for a cron that ignores CRON_TZ, the host is still in that zone.
 */
export function cronDaemonCheck(
  running: { kind: CronKind; why: string } | 'none' | undefined,
  crontab: string | undefined,
  host: { zone: string; from: string },
): Check {
  const name = 'cron daemon';
  if (running === undefined) return warn(name, 'cannot list processes, so cannot tell whether cron runs', 'check by hand: pgrep -l cron');
  if (running === 'none') {
    return warn(
      name,
      'no cron daemon is running: nothing in the crontab will run',
      'start it (Debian/Ubuntu: sudo service cron start; Fedora/RHEL/Arch: sudo systemctl enable --now crond)',
    );
  }
  const honours = running.kind === 'honours-tz';
  const block = crontab ? installedBlock(crontab) : undefined;
  const target = block ? blockTarget(block) : undefined;
  if (!block || !target) return ok(name, `${running.why}; it ${honours ? 'honours' : 'ignores'} CRON_TZ`);
  if (target.kind === 'honours-tz') {
    if (honours) return ok(name, `${running.why}; it honours the block's CRON_TZ lines`);
    // Lines written for cronie under a cron that ignores CRON_TZ fire by the host's zone instead.
    const zones = [...parseBlock(block).cronTzZones].filter((z) => !sameZone(z, host.zone));
    if (zones.length === 0) return ok(name, `${running.why}; it ignores CRON_TZ, and the block's CRON_TZ lines name only the host's zone ${host.zone}`);
    return fail(
      name,
      `${running.why}, which ignores CRON_TZ, but the claw block was written for a cron that honours it (cronie): its ${zones.join(', ')} lines fire by the host's zone ${host.zone} instead`,
      'run `claw cron install`: it writes the lines for this cron (translated to the host zone, or refused with the reason)',
      ExitCode.config,
    );
  }
  // Written for a cron that ignores CRON_TZ: every line is in the host zone it names, right under either kind while the host stays in it.
  if (target.hostZone !== undefined && !sameZone(target.hostZone, host.zone)) {
    return warn(
      name,
      `the claw block's lines are written to fire in ${target.hostZone}, but this host's zone is ${host.zone} (from ${host.from}), and cron runs them by that (${running.why})`,
      `run \`claw cron install\` (or \`claw cron install --host-tz ${target.hostZone}\` if cron really runs in ${target.hostZone})`,
    );
  }
  const zone = target.hostZone ?? host.zone;
  if (honours) return ok(name, `${running.why}; the block is written for a cron that ignores CRON_TZ (every line in ${zone}), which is right here too`);
  return ok(name, `${running.why}; it ignores CRON_TZ, and the block is written for that: every line fires in ${zone}, the host's zone`);
}

// ---- redis ------------------------------------------------------------------------------------

export async function redisChecks(deps: DoctorDeps, config: ClawConfig): Promise<Check[]> {
  const selected = selectedStore(deps.env, config);
  if (!/^rediss?:\/\//i.test(selected)) return [];
  const shown = redactStoreUrl(selected);
  const probe = await deps.probeRedis(selected, redisTimeoutMs);
  if (!probe.reachable) {
    const detail = `cannot reach ${shown} within ${redisTimeoutMs / 1000}s: ${probe.error ?? 'no answer'}`;
    if (config.storeFallback === 'local') {
      return [
        warn('redis', `${detail}; claw falls back to the local store, so limits hold per host only`, 'start Redis (or fix the URL, the password, the network)'),
      ];
    }
    return [fail('redis', detail, 'start Redis or fix the URL/password (or `claw config set storeFallback local`)', ExitCode.unavailable)];
  }
  const checks = [ok('redis', `${shown} answers${probe.version ? ` (Redis ${probe.version})` : ''}`)];
  const forgets = 'a restart forgets the rolling windows and lets a burst through (measured: 4 starts in 3 s against a limit of 2)';
  const persistFix = 'turn on AOF: `redis-cli CONFIG SET appendonly yes` and `CONFIG REWRITE` (or appendonly yes in redis.conf)';
  if (probe.aof === true) checks.push(ok('redis persistence', 'append-only file (AOF) on: the windows survive a restart'));
  else if (probe.save !== undefined && probe.save.trim() !== '') {
    checks.push(ok('redis persistence', `RDB snapshots (save ${probe.save.trim()}): a restart keeps the last snapshot's windows`));
  } else if (probe.save !== undefined) {
    checks.push(warn('redis persistence', `neither AOF nor RDB snapshots are on: ${forgets}`, persistFix));
  } else {
    checks.push(
      warn(
        'redis persistence',
        `unknown: CONFIG GET is refused (${probe.configRefused ?? 'no reason'})${probe.aof === false ? ' and INFO persistence shows AOF off' : ''}; without persistence ${forgets}`,
        `ask the Redis operator whether AOF or RDB saving is on; if not, ${persistFix}`,
      ),
    );
  }
  return checks;
}

// ---- all of it --------------------------------------------------------------------------------

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

/** A ClawError's message usually ends with its fix after the last '; '; else the default. */
function fixOf(err: unknown, fallback: string): string {
  const tail = /;\s*([^;]+)$/.exec(oneLine(err))?.[1];
  return err instanceof ClawError && tail ? tail : fallback;
}

/** The message without the fix that fixOf() takes from it (it is shown as the fix). */
function withoutFix(err: unknown): string {
  const message = oneLine(err);
  return err instanceof ClawError ? message.replace(/;\s*[^;]+$/, '') : message.slice(0, 300);
}

function codeOf(err: unknown): number {
  if (err instanceof ClawError) return err.exitCode === ExitCode.usage ? ExitCode.config : err.exitCode;
  return ExitCode.internal;
}

/** Which path WorkBoard cards take: the plugin's database (milliseconds) or `openclaw workboard list` (7-15 s). */
export function workboardReadCheck(env: NodeJS.ProcessEnv, config: ClawConfig): Check {
  const plan = workboardPath(env, config.workboard?.read ?? 'auto');
  if (plan.path === 'db' && !plan.fallback) return ok('workboard read', `database: ${plan.reason}`);
  if (plan.mode === 'db')
    return fail(
      'workboard read',
      plan.reason,
      'set `claw config set workboard.read auto` (falls back to the CLI) or fix the database path (OPENCLAW_STATE_DIR)',
      ExitCode.unavailable,
    );
  if (plan.mode === 'cli') return ok('workboard read', 'CLI: workboard.read is "cli" (each list starts openclaw: 7-15 s)');
  // No file: the plugin has no cards here yet (or lives elsewhere); the CLI is the only way, nothing to fix.
  if (!existsSync(plan.file)) return ok('workboard read', `CLI: ${plan.fallback}`);
  return warn(
    'workboard read',
    `CLI: ${plan.fallback} (each list starts openclaw: 7-15 s)`,
    'nothing to do when the cards live elsewhere; for a newer plugin schema, update claw',
  );
}

/** A check that threw something unexpected is reported as a failure (70: a bug in claw), not a crash. */
async function guarded(name: string, fn: () => Promise<Check[]> | Check[]): Promise<Check[]> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ClawError) return [fail(name, withoutFix(err), fixOf(err, 'see the message'), codeOf(err))];
    return [fail(name, `internal error: ${oneLine(err)}`, 'please report it with this message', ExitCode.internal)];
  }
}

export async function runDoctor(deps: DoctorDeps, configFile: string): Promise<DoctorReport> {
  const checks: Check[] = [];
  // runtime
  checks.push(nodeCheck(deps.nodeVersion), ...(await guarded('sqlite', () => [sqliteCheck(deps)])));
  // config first (the store depends on it), printed after the store
  const { check: configResult, config } = configCheck(deps.env, configFile);
  // store
  checks.push(...(await guarded('state dir', () => stateDirChecks(stateDir(deps.env, deps.stateDirFlag)))));
  checks.push(...(await guarded('store', async () => [await storeCheck(deps, config)])));
  checks.push(configResult);
  // roster
  let roster: Roster | undefined;
  checks.push(
    ...(await guarded('roster', async () => {
      const result = await rosterCheck(deps, config);
      roster = result.roster;
      return [result.check];
    })),
  );
  // crontab (read now: the executables are looked up on its PATH too)
  const crontab = await readCrontabText(deps);
  // per agent
  for (const agent of roster?.agents ?? []) checks.push(...(await guarded(`agent ${agent.id}`, () => [agentCheck(agent)])));
  const current: PathContext = {
    label: '',
    path: deps.env.PATH ?? '',
    env: deps.env,
    describe: 'PATH',
    fixPath: () => 'add its directory to PATH',
  };
  const contexts = [current];
  const block = crontab.text !== undefined ? installedBlock(crontab.text) : undefined;
  if (crontab.text !== undefined && block) {
    const { path, fromCrontab, fromBlock } = cronPathOf(crontab.text);
    contexts.push({
      label: ' (cron PATH)',
      path,
      env: { PATH: path, HOME: deps.env.HOME, SHELL: '/bin/sh', LOGNAME: deps.env.LOGNAME, USER: deps.env.USER },
      describe: fromBlock
        ? `the claw block's PATH ${path}`
        : fromCrontab
          ? `the crontab's PATH ${path}`
          : `cron's default PATH ${path} (the crontab sets no PATH)`,
      // The block's PATH line is what `claw cron install` found on PATH: reinstalling from this shell puts the dir there.
      fixPath: (dir) =>
        fromBlock
          ? `run \`claw cron install\` from a shell whose PATH has ${dir} (the block's PATH line is made from that PATH), then check again`
          : `set PATH in the crontab to include ${dir} (e.g. PATH=${dir}:/usr/bin:/bin above the claw block), or run \`claw cron install\` (it writes a PATH line), then check again`,
    });
  }
  const versions = new Map<string, Promise<ProcessResult>>();
  const needed = neededExecutables(roster?.agents ?? []);
  const pending: Promise<Check[]>[] = [];
  for (const [name, entry] of needed) {
    for (const where of contexts) pending.push(guarded(`${name}${where.label}`, async () => [await executableCheck(deps, name, entry, where, versions)]));
  }
  for (const result of await Promise.all(pending)) checks.push(...result);
  // gateways
  checks.push(...(await guarded('gateways', () => gatewayChecks(deps.env, config, roster))));
  if (roster?.agents.some((a) => a.workboard)) checks.push(...(await guarded('workboard read', () => [workboardReadCheck(deps.env, config)])));
  // cron
  if (crontab.check) checks.push(crontab.check);
  else {
    checks.push(
      ...(await guarded('crontab', async () => {
        const block = installedBlock(crontab.text!);
        const target = block ? blockTarget(block) : undefined;
        const expected = roster && block ? await deps.expectedCronBlock(roster, target) : undefined;
        return [crontabCheck(crontab.text!, expected)];
      })),
    );
  }
  checks.push(...(await guarded('cron daemon', () => [cronDaemonCheck(deps.runningCron(), crontab.text, deps.hostTimeZone())])));
  // redis
  checks.push(...(await guarded('redis', () => redisChecks(deps, config))));
  const exitCode = exitCodeOf(checks);
  return { ok: !checks.some((c) => c.status === 'fail'), checks, exitCode };
}
