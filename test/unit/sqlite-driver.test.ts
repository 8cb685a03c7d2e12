// The SQLite seam's pure parts: which SQLite versions are safe for many writers, and the error
// names node:sqlite's numeric codes become (the store reads names such as SQLITE_BUSY).
import { describe, expect, it } from 'vitest';
import { isSafeSqliteVersion, sqliteCodeName, sqliteRuntime } from '../../src/store/sqlite-driver';
import Database from '../helpers/sqlite-db.cjs';

describe('isSafeSqliteVersion: the WAL-reset bug (3.7.0 to 3.51.2; fixed in 3.51.3, backported to 3.50.7 and 3.44.6)', () => {
  const cases: [string, boolean][] = [
    ['3.6.23', true], // before WAL
    ['3.7.0', false],
    ['3.7.17', false],
    ['3.44.5', false],
    ['3.44.6', true],
    ['3.44.9', true],
    ['3.45.0', false],
    ['3.49.2', false],
    ['3.50.6', false],
    ['3.50.7', true],
    ['3.51.0', false],
    ['3.51.2', false],
    ['3.51.3', true],
    ['3.52.0', true],
    ['3.53.4', true],
    ['4.0.0', true],
    ['not a version', false],
  ];
  for (const [version, safe] of cases) {
    it(`${version}: ${safe ? 'safe' : 'refused'}`, () => expect(isSafeSqliteVersion(version)).toBe(safe));
  }
});

describe('sqliteCodeName: node:sqlite errcode -> the name better-sqlite3 gives', () => {
  const cases: [number, string][] = [
    [5, 'SQLITE_BUSY'],
    [5 | (1 << 8), 'SQLITE_BUSY_RECOVERY'],
    [5 | (2 << 8), 'SQLITE_BUSY_SNAPSHOT'],
    [26, 'SQLITE_NOTADB'],
    [11, 'SQLITE_CORRUPT'],
    [14, 'SQLITE_CANTOPEN'],
    [14 | (2 << 8), 'SQLITE_CANTOPEN_ISDIR'],
    [13, 'SQLITE_FULL'],
    [8 | (4 << 8), 'SQLITE_READONLY_DBMOVED'],
    [10 | (2 << 8), 'SQLITE_IOERR_SHORT_READ'],
    [10 | (99 << 8), 'SQLITE_IOERR'],
  ];
  for (const [code, name] of cases) it(`${code} is ${name}`, () => expect(sqliteCodeName(code)).toBe(name));
});

describe('sqliteRuntime', () => {
  it('names the driver this Node uses and a safe SQLite version', () => {
    const runtime = sqliteRuntime({});
    expect(runtime.driver).toBe(Number(process.versions.node.split('.')[0]) >= 22 ? 'node:sqlite' : 'better-sqlite3');
    expect(isSafeSqliteVersion(runtime.sqliteVersion)).toBe(true);
  });

  it('names the SQLite a database of that driver runs (not the one Node says it was built with, unless it is built in)', () => {
    const db = new Database(':memory:');
    try {
      expect(sqliteRuntime({}).sqliteVersion).toBe((db.prepare('select sqlite_version() v').get() as { v: string }).v);
    } finally {
      db.close();
    }
  });

  it('refuses an unsafe SQLite with exit 69 and the fix', () => {
    expect(() => sqliteRuntime({ CLAW_TEST_SQLITE_VERSION: '3.51.2' })).toThrow(
      expect.objectContaining({ exitCode: 69, message: expect.stringContaining('fixed in 3.51.3') }),
    );
  });
});
