// The one seam between the SQLite store and a SQLite library. Node 22.13+ and 24 have SQLite built
// in (`node:sqlite`): nothing to compile, nothing to rebuild after `nvm use`. Node 20 has not, so
// there the optional better-sqlite3 (a native addon built for that Node) is used. better-sqlite3
// <= 12 aborts at exit on Node >= 24.19, so on Node 24 it is never loaded at all.
//
// Whichever library it is, its SQLite must not have the WAL-reset bug (3.7.0 to 3.51.2, fixed in
// 3.51.3 and the backports 3.50.7 and 3.44.6): many claw processes write one WAL database, which is
// exactly when that bug corrupts it. The version is checked at run time, not guessed from Node's.
import { accessSync, closeSync, constants, existsSync, fsyncSync, openSync, readSync, statSync, unlinkSync, writeSync, type BigIntStats } from 'node:fs';
import { UnavailableError } from '../errors.js';
import { builtinModule } from '../host.js';

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';
export type SqlValue = string | number | bigint | null | Uint8Array;

/** The part of better-sqlite3's API the store uses; node:sqlite is adapted to it. */
export interface SqliteStatement {
  run(...params: SqlValue[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  /** `fn` inside BEGIN IMMEDIATE ... COMMIT, rolled back when it throws. */
  transaction<T>(fn: () => T): { immediate(): T };
  close(): void;
}

export interface SqliteRuntime {
  driver: SqliteDriverName;
  sqliteVersion: string;
}

/** False for the SQLite versions with the WAL-reset corruption bug: 3.7.0 <= v < 3.51.3, except 3.50.7+ and 3.44.6+. */
export function isSafeSqliteVersion(version: string): boolean {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return false;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (major !== 3) return major > 3;
  if (minor < 7) return true; // before WAL existed
  if (minor > 51 || (minor === 51 && patch >= 3)) return true;
  if (minor === 50) return patch >= 7;
  if (minor === 44) return patch >= 6;
  return false;
}

const fixHint = 'use Node 24 (or Node 22 with SQLite >= 3.51.3), or `npm install better-sqlite3@12` on Node 20';

type Env = Record<string, string | undefined>;

// ---- node:sqlite ----------------------------------------------------------------------------

interface NodeStatementSync {
  run(...params: SqlValue[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}
interface NodeDatabaseSync {
  prepare(sql: string): NodeStatementSync;
  exec(sql: string): void;
  close(): void;
}
type NodeSqliteModule = { DatabaseSync: new (path: string, options?: Record<string, unknown>) => NodeDatabaseSync };

/** node:sqlite, or why not. Node 22 announces it with an ExperimentalWarning on stderr, which cron would mail every run: that one warning is dropped. */
function loadNodeSqlite(): NodeSqliteModule | string {
  // Node 22.5 brought it: on Node 20 do not even ask (a failed require costs a start ~0.2 ms).
  if (nodeMajor() < 22) return `Node ${process.version} has no node:sqlite`;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (String(typeof warning === 'string' ? warning : warning.message).startsWith('SQLite is an experimental feature')) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return builtinModule<NodeSqliteModule>('node:sqlite') ?? `Node ${process.version} has no node:sqlite`;
  } catch {
    return `Node ${process.version} has no node:sqlite`;
  } finally {
    process.emitWarning = emitWarning;
  }
}

// better-sqlite3's error codes are SQLite's extended result code names; node:sqlite sets
// code = 'ERR_SQLITE_ERROR' and the number in errcode. The store reads names: give it names.
const primaryCodes = [
  'OK',
  'ERROR',
  'INTERNAL',
  'PERM',
  'ABORT',
  'BUSY',
  'LOCKED',
  'NOMEM',
  'READONLY',
  'INTERRUPT',
  'IOERR',
  'CORRUPT',
  'NOTFOUND',
  'FULL',
  'CANTOPEN',
  'PROTOCOL',
  'EMPTY',
  'SCHEMA',
  'TOOBIG',
  'CONSTRAINT',
  'MISMATCH',
  'MISUSE',
  'NOLFS',
  'AUTH',
  'FORMAT',
  'RANGE',
  'NOTADB',
  'NOTICE',
  'WARNING',
];
const extendedCodes: Record<string, string[]> = {
  ABORT: ['', 'ROLLBACK'],
  BUSY: ['', 'RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  LOCKED: ['', 'SHAREDCACHE', 'VTAB'],
  READONLY: ['', 'RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  IOERR: [
    '',
    'READ',
    'SHORT_READ',
    'WRITE',
    'FSYNC',
    'DIR_FSYNC',
    'TRUNCATE',
    'FSTAT',
    'UNLOCK',
    'RDLOCK',
    'DELETE',
    'BLOCKED',
    'NOMEM',
    'ACCESS',
    'CHECKRESERVEDLOCK',
    'LOCK',
    'CLOSE',
    'DIR_CLOSE',
    'SHMOPEN',
    'SHMSIZE',
    'SHMLOCK',
    'SHMMAP',
    'SEEK',
    'DELETE_NOENT',
    'MMAP',
    'GETTEMPPATH',
    'CONVPATH',
    'VNODE',
    'AUTH',
    'BEGIN_ATOMIC',
    'COMMIT_ATOMIC',
    'ROLLBACK_ATOMIC',
    'DATA',
    'CORRUPTFS',
    'IN_PAGE',
  ],
  CORRUPT: ['', 'VTAB', 'SEQUENCE', 'INDEX'],
  CANTOPEN: ['', 'NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  CONSTRAINT: ['', 'CHECK', 'COMMITHOOK', 'FOREIGNKEY', 'FUNCTION', 'NOTNULL', 'PRIMARYKEY', 'TRIGGER', 'UNIQUE', 'VTAB', 'ROWID', 'PINNED', 'DATATYPE'],
};

export function sqliteCodeName(errcode: number): string {
  const primary = primaryCodes[errcode & 0xff] ?? 'ERROR';
  const extended = extendedCodes[primary]?.[errcode >> 8];
  return extended ? `SQLITE_${primary}_${extended}` : `SQLITE_${primary}`;
}

function withSqliteCode(err: unknown): unknown {
  const e = err as { code?: unknown; errcode?: unknown };
  if (e && e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    try {
      e.code = sqliteCodeName(e.errcode);
    } catch {
      // a frozen error keeps its code
    }
  }
  return err;
}

class NodeStatement implements SqliteStatement {
  constructor(private readonly statement: NodeStatementSync) {}
  run(...params: SqlValue[]) {
    try {
      return this.statement.run(...params);
    } catch (err) {
      throw withSqliteCode(err);
    }
  }
  get(...params: SqlValue[]): unknown {
    try {
      return this.statement.get(...params);
    } catch (err) {
      throw withSqliteCode(err);
    }
  }
  all(...params: SqlValue[]): unknown[] {
    try {
      return this.statement.all(...params);
    } catch (err) {
      throw withSqliteCode(err);
    }
  }
}

class NodeConnection implements SqliteConnection {
  private readonly db: NodeDatabaseSync;

  constructor(module: NodeSqliteModule, file: string, timeoutMs: number, readOnly = false) {
    try {
      this.db = readOnly ? new module.DatabaseSync(file, { readOnly: true }) : new module.DatabaseSync(file);
      // The busy timeout as a pragma: DatabaseSync's `timeout` option is missing from early 22.x.
      this.db.exec(`pragma busy_timeout = ${Math.floor(timeoutMs)}`);
    } catch (err) {
      throw withSqliteCode(err);
    }
  }

  prepare(sql: string): SqliteStatement {
    try {
      return new NodeStatement(this.db.prepare(sql));
    } catch (err) {
      throw withSqliteCode(err);
    }
  }

  exec(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (err) {
      throw withSqliteCode(err);
    }
  }

  pragma(source: string, options?: { simple?: boolean }): unknown {
    const rows = this.prepare(`pragma ${source}`).all() as Record<string, unknown>[];
    if (!options?.simple) return rows;
    const first = rows[0];
    return first === undefined ? undefined : Object.values(first)[0];
  }

  transaction<T>(fn: () => T): { immediate(): T } {
    return { immediate: () => immediately((sql) => this.exec(sql), fn) };
  }

  close(): void {
    this.db.close();
  }
}

/** `fn` inside BEGIN IMMEDIATE ... COMMIT; rolled back and rethrown when it throws. */
function immediately<T>(run: (sql: 'begin immediate' | 'commit' | 'rollback') => void, fn: () => T): T {
  run('begin immediate');
  let result: T;
  try {
    result = fn();
    run('commit');
  } catch (err) {
    try {
      run('rollback');
    } catch {
      // SQLite already rolled back (e.g. after an I/O error): nothing is open
    }
    throw err;
  }
  return result;
}

// ---- better-sqlite3 (Node 20) ---------------------------------------------------------------

/**
 * better-sqlite3's own transaction() prepares nine statements on first use and builds four wrapper
 * functions on every call; the store needs three statements, prepared once per connection.
 */
function betterConnection(db: BetterDatabase): SqliteConnection {
  const statements = new Map<string, SqliteStatement>();
  const run = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    statement.run();
  };
  return {
    prepare: (sql) => db.prepare(sql),
    exec: (sql) => void db.exec(sql),
    pragma: (source, options) => db.pragma(source, options),
    transaction: <T>(fn: () => T) => ({ immediate: () => immediately(run, fn) }),
    close: () => db.close(),
  };
}

interface BetterDatabase extends SqliteConnection {
  prepare(sql: string): SqliteStatement;
}
type BetterSqliteModule = {
  Database: new (file: string, options: { timeout: number; nativeBinding?: string | object; readonly?: boolean; fileMustExist?: boolean }) => BetterDatabase;
  /** The addon's path; loadBetterSqlite replaces it with the loaded addon. */
  nativeBinding: string | object;
  /** Filled in by loadBetterSqlite from its test database. */
  sqliteVersion?: string;
};

/** better-sqlite3 from its own bundle (dist/better-sqlite3.cjs, see build.mjs), or why not. */
function loadBetterSqlite(): BetterSqliteModule | string {
  if (nodeMajor() >= 24) return `better-sqlite3 is never used on Node ${process.version} (it aborts at exit there)`;
  try {
    const module = betterSqliteModule();
    // The addon, loaded here straight from its path: through require() (better-sqlite3's own way)
    // each start would look the path up again. Then one throwaway database, for its SQLite version.
    const addon = { exports: {} };
    process.dlopen(addon, module.nativeBinding as string);
    const nativeBinding = addon.exports;
    const probe = new module.Database(':memory:', { timeout: 0, nativeBinding });
    const sqliteVersion = versionOf(probe);
    probe.close();
    return { ...module, nativeBinding, sqliteVersion };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'MODULE_NOT_FOUND') return 'better-sqlite3 is not installed';
    if (/NODE_MODULE_VERSION|different Node\.js version/.test(e.message ?? '')) {
      return `better-sqlite3 was built for another Node version (\`npm rebuild better-sqlite3\`)`;
    }
    return `better-sqlite3 cannot be loaded (${(e.message ?? String(err)).split('\n')[0]})`;
  }
}

/**
 * In the bundle, `claw-better-sqlite3` is better-sqlite3 itself, or dist/better-sqlite3.cjs when the
 * build had none (see build.mjs); required here, on first use, so Node 22/24 never evaluate it.
 * From the sources (unit tests), the package.
 */
function betterSqliteModule(): BetterSqliteModule {
  try {
    return require('claw-better-sqlite3') as BetterSqliteModule;
  } catch (err) {
    if (!(err instanceof ReferenceError) && !String((err as Error).message).includes("'claw-better-sqlite3'")) throw err;
    // Run from the sources (tests): the package, found from here.
    const requireHere = builtinModule<typeof import('node:module')>('node:module')!.createRequire(import.meta.url);
    return { Database: requireHere('better-sqlite3'), nativeBinding: requireHere.resolve('better-sqlite3/build/Release/better_sqlite3.node') };
  }
}

function nodeMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}

// ---- choosing -------------------------------------------------------------------------------

interface Choice extends SqliteRuntime {
  open(file: string, timeoutMs: number, readOnly?: boolean): SqliteConnection;
}

let chosen: { key: string; choice: Choice } | undefined;

function versionOf(connection: SqliteConnection): string {
  return (connection.prepare('select sqlite_version() as v').get() as { v: string }).v;
}

function probedVersion(probe: SqliteConnection): string {
  try {
    return versionOf(probe);
  } finally {
    probe.close();
  }
}

/**
 * The SQLite node:sqlite runs, when Node has it built in: then it is the version Node was built
 * with. A Node built against the system's libsqlite3 (`--shared-sqlite`, as distributions do) runs
 * whatever that library is today, so there it is asked (undefined here). Saves every start a
 * throwaway database.
 */
function bundledSqliteVersion(): string | undefined {
  const shared = (process.config.variables as { node_shared_sqlite?: unknown }).node_shared_sqlite;
  return shared === false ? process.versions.sqlite : undefined;
}

/**
 * node:sqlite when the runtime has it and its SQLite is safe, else better-sqlite3 when it loads and
 * is safe, else UnavailableError (exit 69) with one line naming the fix. Test hooks:
 * CLAW_SQLITE_DRIVER forces one driver; CLAW_TEST_SQLITE_VERSION pretends every driver has that SQLite.
 */
function choose(env: Env): Choice {
  const forced = env.CLAW_SQLITE_DRIVER || undefined;
  const pretend = env.CLAW_TEST_SQLITE_VERSION || undefined;
  const key = `${forced}|${pretend}`;
  if (chosen?.key === key) return chosen.choice;
  if (forced && forced !== 'node:sqlite' && forced !== 'better-sqlite3') {
    throw new UnavailableError(`CLAW_SQLITE_DRIVER="${forced}" is not a SQLite driver: use node:sqlite or better-sqlite3, or unset it`);
  }
  const reasons: string[] = [];
  const unsafe = (driver: string, version: string) =>
    `${driver} has SQLite ${version}, which can corrupt a WAL database written by several processes (fixed in 3.51.3, 3.50.7, 3.44.6)`;

  if (forced !== 'better-sqlite3') {
    const module = loadNodeSqlite();
    if (typeof module === 'string') {
      reasons.push(module);
    } else {
      const open = (file: string, timeoutMs: number, readOnly?: boolean) => new NodeConnection(module, file, timeoutMs, readOnly);
      const version = pretend ?? bundledSqliteVersion() ?? probedVersion(open(':memory:', 0));
      if (isSafeSqliteVersion(version)) return remember(key, { driver: 'node:sqlite', sqliteVersion: version, open });
      reasons.push(unsafe(`node:sqlite in Node ${process.version}`, version));
    }
  }
  if (forced !== 'node:sqlite') {
    const module = loadBetterSqlite();
    if (typeof module === 'string') {
      reasons.push(module);
    } else {
      const open = (file: string, timeoutMs: number, readOnly?: boolean) =>
        betterConnection(
          new module.Database(file, { timeout: timeoutMs, nativeBinding: module.nativeBinding, ...(readOnly ? { readonly: true, fileMustExist: true } : {}) }),
        );
      const version = pretend ?? module.sqliteVersion ?? '';
      if (isSafeSqliteVersion(version)) return remember(key, { driver: 'better-sqlite3', sqliteVersion: version, open });
      reasons.push(unsafe('better-sqlite3', version));
    }
  }
  throw new UnavailableError(`no safe SQLite for the state store: ${reasons.join('; ')}; ${fixHint}`);
}

function remember(key: string, choice: Choice): Choice {
  chosen = { key, choice };
  return choice;
}

/** The driver the store uses on this runtime and its SQLite version; UnavailableError (exit 69) when none is usable and safe. */
export function sqliteRuntime(env: Env = process.env): SqliteRuntime {
  const { driver, sqliteVersion } = choose(env);
  return { driver, sqliteVersion };
}

// ---- opening a store file -------------------------------------------------------------------

export interface OpenOptions {
  timeoutMs: number;
  env?: Env;
}

/**
 * Opens another program's SQLite file read-only with the chosen driver (WorkBoard's database): no
 * journal guard, no writes; a missing file is an error, never created.
 */
export function openReadOnlyDatabase(file: string, options: OpenOptions): SqliteConnection {
  return choose(options.env ?? process.env).open(file, options.timeoutMs, true);
}

/** Opens `file` with the chosen driver; every IMMEDIATE transaction first checks the store's -wal/-shm (see JournalGuard). */
export function openDatabase(file: string, options: OpenOptions): SqliteConnection {
  const choice = choose(options.env ?? process.env);
  const guard = new JournalGuard(file);
  guard.refuseIfSplit(() => othersHold(choice, file));
  const connection = choice.open(file, options.timeoutMs);
  // -wal/-shm outlive the process (see closeKeepingJournal): SQLite's own checkpoint keeps the WAL
  // short, which bounds what the next process to open the store reads to rebuild its index.
  connection.exec(`pragma wal_autocheckpoint = ${walCheckpointPages}; pragma journal_size_limit = ${walSizeLimitBytes}`);
  // This process still sees what the processes before the deletion wrote (the deleted -wal is open
  // here): copy it into claw.db, which was not deleted, so the processes after it see it too.
  const rescue = () => {
    try {
      connection.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // best effort: another process of the old files may do it
    }
  };
  return {
    prepare: (sql) => connection.prepare(sql),
    exec: (sql) => connection.exec(sql),
    pragma: (source, pragmaOptions) => {
      const result = connection.pragma(source, pragmaOptions);
      // The store's first statement (its schema check) opened the -wal/-shm this connection uses.
      guard.adopt();
      return result;
    },
    transaction: <T>(fn: () => T) => ({
      immediate: () => {
        try {
          return connection
            .transaction(() => {
              guard.check();
              return fn();
            })
            .immediate();
        } catch (err) {
          if (err instanceof JournalMovedError) rescue();
          throw err;
        }
      },
    }),
    close: () => {
      if (guard.moved()) {
        // Deleted or replaced under this process: what it sees goes into claw.db (the last process
        // of the old files checkpoints them on close), as before the files were kept.
        rescue();
        connection.close();
      } else if (guard.holds()) {
        closeKeepingJournal(choice, file, connection);
      } else {
        connection.close();
      }
    },
  };
}

/** The WAL is checkpointed by whichever write takes it past this many pages (SQLite's default is 1,000: ~4 MB to read at every start). */
const walCheckpointPages = 128;
/** A checkpointed WAL file is cut back to this size (it keeps its largest size otherwise). */
const walSizeLimitBytes = 1024 * 1024;

/**
 * Closes the store's connection without what SQLite does when the last connection to a WAL
 * database closes: a checkpoint (two fsyncs) and deleting -wal and -shm, which the next process
 * makes again (and syncs), after first checking that no process still holds deleted ones
 * (JournalGuard.refuseIfSplit). A read-only connection that has read the store is open while it
 * closes, so it is not the last; closing last itself, the read-only one cannot take the lock a
 * checkpoint needs. The files stay, as they are while any claw process runs. On any failure here
 * the connection is closed the usual way.
 */
function closeKeepingJournal(choice: Choice, file: string, connection: SqliteConnection): void {
  let keeper: SqliteConnection | undefined;
  try {
    keeper = choice.open(file, 0, true);
    // A read (the header's schema version: no schema to parse) takes the shared lock and a WAL read lock.
    keeper.prepare('pragma schema_version').get();
  } catch {
    // another process is rebuilding the WAL index, or the file cannot be opened read-only: close as usual
  }
  try {
    connection.close();
  } finally {
    keeper?.close();
  }
}

class JournalMovedError extends UnavailableError {}

/**
 * Deleting claw.db-wal and claw.db-shm while claw processes run splits the store in two: the
 * running processes keep the deleted files open, new ones make new files, and neither sees the
 * other's admissions. SQLite cannot tell. So:
 * - inside each write transaction (where the write lock makes it race-free), a process checks that
 *   the files at those paths are still the ones it met first; if not, it copies what it saw into
 *   claw.db (a checkpoint) and fails, exit 69;
 * - before opening, a process that finds the -wal/-shm missing checks that no other process holds
 *   claw.db open (through files that are no longer there); if one does, it fails, exit 69, until
 *   those processes are gone, and never makes new files beside theirs.
 * Never a blind admission.
 */
class JournalGuard {
  private wal: BigIntStats | undefined;
  private shm: BigIntStats | undefined;

  constructor(private readonly file: string) {}

  /**
   * Remembers the files at the paths as this connection's, once: called after its first statement
   * (which opened them) and in each write (a new store has them only once it is in WAL mode).
   */
  adopt(): void {
    if (this.holds()) return;
    const wal = statOrUndefined(`${this.file}-wal`);
    const shm = statOrUndefined(`${this.file}-shm`);
    if (wal && shm) {
      this.wal = wal;
      this.shm = shm;
    }
  }

  /** Whether this connection's -wal/-shm are known (the store is in WAL mode). */
  holds(): boolean {
    return this.wal !== undefined && this.shm !== undefined;
  }

  check(): void {
    if (!this.holds()) {
      this.adopt();
      return;
    }
    const wal = statOrUndefined(`${this.file}-wal`);
    const shm = statOrUndefined(`${this.file}-shm`);
    if (!sameFile(this.wal!, wal) || !sameFile(this.shm!, shm)) {
      throw new JournalMovedError(
        `state store ${this.file}: its -wal/-shm files were deleted or replaced while this process had them open; ` +
          `stop every claw process, then run claw again, and never delete -wal/-shm files while claw runs`,
      );
    }
  }

  /** True when the files at the paths are no longer the ones this process writes through. */
  moved(): boolean {
    if (!this.holds()) return false;
    return !sameFile(this.wal!, statOrUndefined(`${this.file}-wal`)) || !sameFile(this.shm!, statOrUndefined(`${this.file}-shm`));
  }

  /**
   * Before opening: when the -wal/-shm are gone but claw.db is a WAL database that another process
   * holds open, that process writes through deleted files: opening now would make new ones and
   * split the store. A live WAL connection always has both files, and one that is opening makes
   * them within a moment; the last process to close holds it while it checkpoints and removes
   * them, which under load can take a while: so only what lasts ~5 s of looks counts.
   */
  refuseIfSplit(othersHoldDatabase: () => boolean): void {
    // Waits between looks: 0, 5, 10, 20 ... 2560 ms (~5 s in all), paid only while it looks split. The
    // usual holder is the last process closing the store (it checkpoints, deletes its -wal/-shm, then
    // lets go), which a loaded machine can stretch past a second (CI saw a false refusal at ~1.3 s).
    for (let look = 0, waitMs = 10; look < 11; look++, waitMs *= 2) {
      if (look > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs / 2);
      if (statOrUndefined(`${this.file}-wal`) || statOrUndefined(`${this.file}-shm`)) return;
      if (!isWalDatabase(this.file) || !othersHoldDatabase()) return;
    }
    throw new UnavailableError(
      `state store ${this.file}: another process still holds it through -wal/-shm files that were deleted; ` +
        `wait for the claw processes that were running to end (or stop them), then run claw again, and never delete -wal/-shm files while claw runs`,
    );
  }
}

/** Bytes 18 and 19 of a SQLite header are 2 in WAL mode; a new or empty file is not. */
function isWalDatabase(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const header = Buffer.alloc(20);
    return readSync(fd, header, 0, 20, 0) === 20 && header[18] === 2 && header[19] === 2;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Whether any other process has `file` open (holds SQLite's shared lock on it): a connection in
 * exclusive locking mode must take SQLite's exclusive lock to read, and with no busy timeout it
 * fails at once when anyone else holds the file. Used only when the -wal/-shm are missing (a new
 * store, one last closed by an older claw, or a deletion), and it keeps its WAL index in memory, so
 * it touches no -shm.
 */
function othersHold(choice: Choice, file: string): boolean {
  let probe: SqliteConnection | undefined;
  try {
    probe = choice.open(file, 0);
    probe.exec('pragma locking_mode = exclusive');
    probe.prepare('select count(*) from sqlite_master').get();
    return false;
  } catch (err) {
    return String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY');
  } finally {
    try {
      probe?.close();
    } catch {
      // closing a probe that failed to read
    }
  }
}

function statOrUndefined(path: string): BigIntStats | undefined {
  return statSync(path, { bigint: true, throwIfNoEntry: false });
}

function sameFile(a: BigIntStats, b: BigIntStats | undefined): boolean {
  return b !== undefined && a.ino === b.ino && a.dev === b.dev;
}

// ---- store faults ---------------------------------------------------------------------------

const fsFaults = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ELOOP', 'EIO', 'ENAMETOOLONG']);
const sqliteFaults = /^SQLITE_(CANTOPEN|READONLY|FULL|IOERR|PERM|AUTH|NOLFS)/;

/**
 * A file-system fault under the store (a directory where claw.db should be, a file where the state
 * dir should be, another user's store, a read-only mount, a full disk) as one line naming the path
 * and the fix, exit 69. SQLite's own code says little ("unable to open database file"), so the
 * state dir is probed to say which. Undefined when `err` is not such a fault.
 */
export function storeFault(err: unknown, dir: string, file: string): UnavailableError | undefined {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (!fsFaults.has(code) && !sqliteFaults.test(code)) return undefined;
  const reason = (err as Error).message?.split('\n')[0] ?? code;
  const probed = probeStateDir(dir, file);
  const cause = probed ?? (code.startsWith('SQLITE_FULL') ? 'ENOSPC' : code.startsWith('SQLITE_READONLY') ? 'READONLY' : code);
  const where = `state store ${file}`;
  switch (cause) {
    case 'DIR_NOT_DIR':
      return new UnavailableError(`state dir ${dir} is not a directory: move it aside, or set CLAW_STATE_DIR (or --state-dir) to a directory`);
    case 'DB_IS_DIR':
      return new UnavailableError(`${where} is a directory, not a SQLite file: move it aside (mv ${file} ${file}.broken) and claw will start a new store`);
    case 'EACCES':
    case 'EPERM':
      return new UnavailableError(
        `${where}: permission denied (${reason}); run claw as the user who owns ${dir}, or set CLAW_STATE_DIR to a directory of your own`,
      );
    case 'EROFS':
    case 'READONLY':
      return new UnavailableError(`${where} is on a read-only file system (${reason}); set CLAW_STATE_DIR to a writable directory`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new UnavailableError(`${where}: no space left on its file system (${reason}); free some space there, then run claw again`);
    default:
      return new UnavailableError(`${where}: ${reason} (${code}); check the disk and the permissions of ${dir}, or set CLAW_STATE_DIR elsewhere`);
  }
}

/** Which fault the state dir shows: checked only after a failure, so its cost is never paid on a good start. */
function probeStateDir(dir: string, file: string): string | undefined {
  try {
    const dirStats = statSync(dir, { throwIfNoEntry: false });
    if (dirStats && !dirStats.isDirectory()) return 'DIR_NOT_DIR';
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) return 'DB_IS_DIR';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOTDIR') return 'DIR_NOT_DIR';
    if (code) return code;
  }
  const probe = `${dir}/.claw-probe-${process.pid}`;
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    if (existsSync(file)) accessSync(file, constants.R_OK | constants.W_OK);
    // A full disk still lets a file be created: write a page to find out.
    const fd = openSync(probe, 'wx', 0o600);
    try {
      writeSync(fd, Buffer.alloc(8192));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // never created
    }
  }
}
