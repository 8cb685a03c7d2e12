// lead: replace with sqliteRuntime() from store/sqlite-driver.ts
// The SQLite driver claw uses today (better-sqlite3) and the library version it embeds, for
// `claw doctor`: an in-memory database, `select sqlite_version()`.
import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { UnavailableError } from '../errors.js';
import { nodeVersion } from '../host.js';
import type { SqliteRuntime } from './checks.js';

export function sqliteRuntime(): SqliteRuntime {
  let db: Database.Database;
  try {
    db = new Database(':memory:', { nativeBinding: createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node') });
  } catch (err) {
    const text = (err as Error).message.replace(/\s*\n\s*/g, ' ');
    const abi = /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires NODE_MODULE_VERSION (\d+)/.exec(text);
    const message = abi ? `its addon was built for another Node: NODE_MODULE_VERSION ${abi[1]}, this one needs ${abi[2]}` : text.slice(0, 200);
    throw new UnavailableError(`better-sqlite3 does not load under Node ${nodeVersion} (${message}); rebuild it for this Node: npm rebuild better-sqlite3`);
  }
  try {
    const version = db.prepare('select sqlite_version() as v').get() as { v: string };
    return { driver: 'better-sqlite3', sqliteVersion: version.v };
  } finally {
    db.close();
  }
}

// lead: replace with isSafeSqliteVersion() from store/sqlite-driver.ts
/** SQLite 3.7.0 to 3.51.2 have the WAL-reset corruption bug; fixed in 3.51.3, backported to 3.50.7 and 3.44.6. */
export function isSafeSqliteVersion(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((n) => Number(n) || 0);
  const at = major * 1_000_000 + minor * 1_000 + patch;
  const v = (a: number, b: number, c: number) => a * 1_000_000 + b * 1_000 + c;
  if (at < v(3, 7, 0) || at >= v(3, 51, 3)) return true;
  if (minor === 50 && at >= v(3, 50, 7)) return true;
  if (minor === 44 && at >= v(3, 44, 6)) return true;
  return false;
}
