// WorkBoard without starting the CLI: claw reads the plugin's workboard.sqlite read-only when it
// knows the schema, and gets exactly the cards `openclaw workboard list --json` prints. The fixture
// is a database made by the real openclaw 2026.9.6 and what its `list --json` printed for it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../helpers/sqlite-db.cjs';
import { describe, expect, it } from 'vitest';
import { repoRoot, runClaw } from '../helpers/claw';
import { fleet, isWorkboardList } from '../helpers/fleet';
import { cardsFromDatabase, openReadOnly, workboardPath } from '../../src/sources/workboard-db';

const fixtures = join(repoRoot, 'test', 'fixtures', 'workboard');
const recorded = (name: string) => readFileSync(join(fixtures, name), 'utf8');

/** A workboard.sqlite (WAL, like the plugin's) built from the fixture, under `<stateDir>/plugins/workboard`. */
function makeDatabase(stateDir: string, extraSql = ''): string {
  const dir = join(stateDir, 'plugins', 'workboard');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'workboard.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(readFileSync(join(fixtures, 'schema-3.sql'), 'utf8') + extraSql);
  db.close();
  return file;
}

function cachedCards(stateDir: string): unknown {
  const db = new Database(join(stateDir, 'claw.db'), { readonly: true });
  try {
    const row = db.prepare(`select value from cache where key = 'workboard:cards:all-boards'`).get() as { value: string } | undefined;
    return row && (JSON.parse(row.value) as { items: unknown[] }).items;
  } finally {
    db.close();
  }
}

describe('WorkBoard through the plugin database', () => {
  it('reads card for card what openclaw 2026.9.6 printed for the same database, for every board and each one', () => {
    const h = fleet({ agents: ['coo'] });
    const stateDir = join(h.root, 'openclaw');
    makeDatabase(stateDir);
    const env = { HOME: h.root, OPENCLAW_STATE_DIR: stateDir };
    for (const [board, file] of [
      [undefined, 'list-all.json'],
      ['ops', 'list-ops.json'],
      ['default', 'list-default.json'],
      ['OPS', 'list-ops.json'],
    ] as const) {
      const read = cardsFromDatabase(board, env);
      expect(read.ok, read.ok ? '' : read.reason).toBe(true);
      // Byte for byte as the CLI prints it: the same cards, fields, field order and card order.
      expect(`${JSON.stringify({ cards: read.ok ? read.cards : [] }, null, 2)}\n`).toBe(recorded(file));
    }
    // The claim token is redacted before it reaches claw, as the CLI does.
    expect(JSON.stringify(cardsFromDatabase(undefined, env))).not.toContain('tok-secret-123');
  });

  it('the fake openclaw prints the recorded output for the same database (so CLI and database paths can be compared)', () => {
    const h = fleet({ agents: ['coo'] });
    const stateDir = join(h.root, 'openclaw');
    makeDatabase(stateDir);
    for (const [args, file] of [
      [[], 'list-all.json'],
      [['--board', 'ops'], 'list-ops.json'],
    ] as const) {
      const out = execFileSync(join(repoRoot, 'test', 'fakes', 'openclaw'), ['workboard', 'list', ...args, '--json'], {
        env: { ...h.env, OPENCLAW_STATE_DIR: stateDir },
        encoding: 'utf8',
      });
      expect(out).toBe(recorded(file));
    }
  });

  it('claw poll caches the same cards through the database as through the CLI, and starts no openclaw for them', async () => {
    const results: Record<string, { cards: unknown; poll: any; listCalls: number }> = {};
    for (const read of ['cli', 'db', 'auto'] as const) {
      const h = fleet({ agents: ['coo', 'secretary'] });
      const stateDir = join(h.root, 'openclaw');
      makeDatabase(stateDir);
      h.writeConfig({ workboard: { read } });
      const env = { ...h.env, OPENCLAW_STATE_DIR: stateDir };
      const poll = await runClaw(['poll', '--json'], env);
      expect(poll.code, poll.stderr).toBe(0);
      results[read] = { cards: cachedCards(h.stateDir), poll: JSON.parse(poll.stdout), listCalls: h.calls(isWorkboardList).length };
      const status = JSON.parse((await runClaw(['status', '--json'], env)).stdout);
      expect(status.workboard.path).toBe(read === 'cli' ? 'cli' : 'db');
    }
    expect(results.cli!.listCalls).toBe(1);
    expect(results.db!.listCalls).toBe(0);
    expect(results.auto!.listCalls).toBe(0);
    // Archived cards are kept on both paths (dependencies resolve over them): all six fixture cards.
    expect((results.cli!.cards as unknown[]).length).toBe(6);
    expect(results.db!.cards).toEqual(results.cli!.cards);
    expect(results.auto!.cards).toEqual(results.cli!.cards);
    expect(results.db!.poll.agents).toEqual(results.cli!.poll.agents);
    expect(results.db!.poll.agents.find((a: any) => a.agent === 'coo').claimable).toBeGreaterThan(0);
  });

  it('falls back to the CLI on a schema it does not know, says so in status and doctor, and refuses it under workboard.read=db', async () => {
    const h = fleet({ agents: ['coo'] });
    const stateDir = join(h.root, 'openclaw');
    makeDatabase(stateDir, `insert into workboard_schema_migrations (id, applied_at) values ('schema-4', 1795700000000);`);
    const env = { ...h.env, OPENCLAW_STATE_DIR: stateDir };
    const poll = await runClaw(['poll', '--json'], env);
    expect(poll.code, poll.stderr).toBe(0);
    expect(h.calls(isWorkboardList)).toHaveLength(1);
    const status = JSON.parse((await runClaw(['status', '--json'], env)).stdout);
    expect(status.workboard).toMatchObject({ mode: 'auto', path: 'cli' });
    expect(status.workboard.fallback).toContain('schema-3, schema-4');
    const doctor = JSON.parse((await runClaw(['doctor', '--json'], env)).stdout);
    const check = doctor.checks.find((c: any) => c.name === 'workboard read');
    expect(check).toMatchObject({ status: 'warn' });
    expect(check.detail).toContain('schema-4');

    h.writeConfig({ workboard: { read: 'db' } });
    expect((await runClaw(['cache', 'clear'], env)).code).toBe(0);
    const beat = await runClaw(['heartbeat', 'coo', '--json', '--no-splay'], env);
    const report = JSON.parse(beat.stdout);
    const source = report.sources.find((s: any) => s.source === 'workboard');
    expect(source.state).toBe('unavailable');
    expect(source.detail).toContain('workboard.read is "db"');
    expect(h.calls(isWorkboardList)).toHaveLength(1);
  });

  it('a locked database falls back instead of waiting, and the reader never writes the file', () => {
    const h = fleet({ agents: ['coo'] });
    const stateDir = join(h.root, 'openclaw');
    const file = makeDatabase(stateDir);
    const env = { HOME: h.root, OPENCLAW_STATE_DIR: stateDir };
    const writer = new Database(file);
    writer.pragma('journal_mode = DELETE');
    writer.exec('begin exclusive');
    try {
      const started = Date.now();
      const read = cardsFromDatabase(undefined, env);
      expect(read.ok).toBe(false);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(workboardPath(env, 'auto')).toMatchObject({ path: 'cli' });
    } finally {
      writer.exec('rollback');
      writer.close();
    }
    const handle = openReadOnly(file);
    expect(() => handle.exec(`delete from workboard_cards`)).toThrow(/readonly/i);
    handle.close();
  });
});
