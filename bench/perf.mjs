// Bounded growth and the WorkBoard database path, measured in one run:
// - `claw status --json` (shipped 15-agent roster) on a fresh store, after a simulated year of that
//   fleet's heartbeat records (pruned along the way by the heartbeats, as in production), and on a
//   year's records never pruned (lastRuns served by the index alone);
// - `claw poll` with WorkBoard through the CLI and through the plugin's database, same cards.
// The CLI side uses test/fakes/openclaw unless CLAW_BENCH_OPENCLAW_PATH names a PATH prefix with
// the real `openclaw` (and a Node >= 24.16 for it), e.g.
//   CLAW_BENCH_OPENCLAW_PATH=/path/to/node24/bin:/path/to/openclaw/node_modules/.bin npm run bench
// Run alone: node bench/perf.mjs (after npm run build).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { idleFleet } from './idle-hour.mjs';

const root = new URL('..', import.meta.url).pathname;
const claw = join(root, 'bin/claw');
const Database = createRequire(join(root, 'package.json'))('./test/helpers/sqlite-db.cjs');
const day = 86_400_000;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function timed(args, env, runs) {
  const times = [];
  let stdout = '';
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    stdout = execFileSync(process.execPath, [claw, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(times), stdout };
}

function storeBytes(dir) {
  return ['claw.db', 'claw.db-wal']
    .map((f) => join(dir, f))
    .filter(existsSync)
    .reduce((sum, f) => sum + statSync(f).size, 0);
}

const chunkDays = 10;

/** `chunkDays` of the roster's heartbeat records (every tick of every agent), inserted directly. */
function insertChunk(dbFile, agents, from) {
  const db = new Database(dbFile);
  const insert = db.prepare('insert into runs (agent, started_at, ended_at, outcome, detail) values (?, ?, ?, ?, ?)');
  let rows = 0;
  db.transaction(() => {
    for (const agent of agents) {
      for (let t = from + agent.offsetMs; t < from + chunkDays * day; t += agent.everyMs) {
        const detail = {
          sources: [
            { source: 'workboard', state: 'ok', detail: 'cached 3.2m ago', tasks: 0 },
            { source: 'multica', state: 'ok', detail: 'cached 3.2m ago', tasks: 0 },
            { source: 'docs', state: 'ok', detail: 'read now', tasks: 0 },
          ],
          counts: { claimable: 0, blocked: 0, inProgress: 0, suspected: 0, confirmed: 0, paused: 0 },
          dispatched: [],
        };
        insert.run(agent.id, t, t + 180, 'idle', JSON.stringify(detail));
        rows++;
      }
    }
  })();
  db.close();
  return rows;
}

function rosterAgents(heartbeats) {
  return readdirSync(heartbeats)
    .filter((f) => f.endsWith('.json') && f !== 'defaults.json')
    .map((f, i) => {
      const a = JSON.parse(readFileSync(join(heartbeats, f), 'utf8'));
      const step = Number(/^\*\/(\d+)/.exec(a.schedule)?.[1] ?? 10);
      return { id: a.id, everyMs: step * 60_000, offsetMs: i * 1000 };
    });
}

export function statusAfterAYear() {
  const fleet = idleFleet();
  const agents = rosterAgents(fleet.heartbeats);
  const base = Date.now();
  timed(['status', '--json'], fleet.env, 1);
  const fresh = timed(['status', '--json'], fleet.env, 9);
  const dbFile = join(fleet.env.CLAW_STATE_DIR, 'claw.db');
  // A year in 10-day steps: each step's records, then the heartbeats at its end prune them (a
  // prune spends at most 200 ms; a heartbeat that finds more left goes on at the next one).
  let rows = 0;
  let catchUpBeats = 0;
  let slowestBeatMs = 0;
  let offset = 0;
  for (let step = 0; step < 36; step++) {
    rows += insertChunk(dbFile, agents, base + step * chunkDays * day);
    offset = (step + 1) * chunkDays * day + 3_600_000;
    for (let beat = 0; beat < 30; beat++) {
      const t = timed(['heartbeat', 'coo', '--no-splay'], { ...fleet.env, CLAW_CLOCK_OFFSET_MS: String(offset + beat * 60_000) }, 1);
      catchUpBeats++;
      slowestBeatMs = Math.max(slowestBeatMs, t.ms);
      const db = new Database(dbFile, { readonly: true });
      const old = db.prepare('select count(*) n from runs where started_at < ?').get(base + offset - 30 * day).n;
      db.close();
      if (old === 0) break;
    }
  }
  const yearEnv = { ...fleet.env, CLAW_CLOCK_OFFSET_MS: String(offset + 3_600_000) };
  const year = timed(['status', '--json'], yearEnv, 9);
  const db = new Database(dbFile, { readonly: true });
  const kept = db.prepare('select count(*) n, min(started_at) oldest from runs').get();
  db.close();
  const prunedBytes = storeBytes(fleet.env.CLAW_STATE_DIR);
  const lastRunsOk = JSON.parse(year.stdout).agents.every((a) => a.lastRun !== null);
  fleet.cleanup();

  // The same year never pruned: what the index alone does for status.
  const raw = idleFleet();
  timed(['status', '--json'], raw.env, 1);
  let rawRows = 0;
  const rawFile = join(raw.env.CLAW_STATE_DIR, 'claw.db');
  for (let step = 0; step < 36; step++) rawRows += insertChunk(rawFile, agents, base + step * chunkDays * day);
  const unpruned = timed(['status', '--json'], raw.env, 5);
  // The query lastRuns ran before the index served it: a window function over every record.
  const old = new Database(rawFile, { readonly: true });
  const t0 = process.hrtime.bigint();
  old
    .prepare(
      `select agent, started_at, ended_at, outcome, detail from (select *, row_number() over (partition by agent order by started_at desc, id desc) rn from runs) where rn <= 10 order by agent, started_at desc`,
    )
    .all();
  const windowQueryMs = Number(process.hrtime.bigint() - t0) / 1e6;
  old.close();
  const unprunedBytes = storeBytes(raw.env.CLAW_STATE_DIR);
  raw.cleanup();
  return {
    agents: agents.length,
    freshMs: +fresh.ms.toFixed(1),
    yearMs: +year.ms.toFixed(1),
    ratio: +(year.ms / fresh.ms).toFixed(2),
    recordsWritten: rows,
    recordsKept: kept.n,
    oldestKeptDays: +((base + offset + 3_600_000 - kept.oldest) / day).toFixed(1),
    storeMB: +(prunedBytes / 1e6).toFixed(1),
    lastRunsOk,
    catchUpBeats,
    slowestBeatMs: +slowestBeatMs.toFixed(0),
    unprunedRecords: rawRows,
    unprunedStoreMB: +(unprunedBytes / 1e6).toFixed(1),
    unprunedMs: +unpruned.ms.toFixed(1),
    unprunedRatio: +(unpruned.ms / fresh.ms).toFixed(2),
    windowQueryMs: +windowQueryMs.toFixed(0),
  };
}

export function pollPaths() {
  const work = mkdtempSync(join(tmpdir(), 'claw-bench-wb-'));
  const stateDir = join(work, 'openclaw');
  const dbDir = join(stateDir, 'plugins', 'workboard');
  mkdirSync(dbDir, { recursive: true });
  const db = new Database(join(dbDir, 'workboard.sqlite'));
  db.pragma('journal_mode = WAL');
  db.exec(readFileSync(join(root, 'test', 'fixtures', 'workboard', 'schema-3.sql'), 'utf8'));
  db.close();
  writeFileSync(join(stateDir, 'openclaw.json'), JSON.stringify({ plugins: { entries: { workboard: { enabled: true } } } }));
  const heartbeats = join(work, 'heartbeats');
  mkdirSync(join(heartbeats, 'workspaces'), { recursive: true });
  writeFileSync(
    join(heartbeats, 'defaults.json'),
    JSON.stringify({
      tz: 'UTC',
      workspace: 'workspaces/{agent}',
      workboard: {},
      model: 'nvidia/deepseek-ai/deepseek-v4-pro',
      splay: '0s',
      sourceTimeout: '60s',
    }),
  );
  for (const id of ['coo', 'secretary']) {
    mkdirSync(join(heartbeats, 'workspaces', id), { recursive: true });
    writeFileSync(join(heartbeats, `${id}.json`), JSON.stringify({ id, schedule: '*/10 * * * *' }));
  }
  const real = process.env.CLAW_BENCH_OPENCLAW_PATH;
  const cliPath = real ?? join(root, 'test', 'fakes');
  const result = {};
  for (const read of ['cli', 'db']) {
    const configDir = join(work, `config-${read}`);
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ workboard: { read } }));
    const env = {
      PATH: `${cliPath}:${process.env.PATH}`,
      HOME: work,
      OPENCLAW_STATE_DIR: stateDir,
      CLAW_STATE_DIR: join(work, `state-${read}`),
      CLAW_CONFIG_DIR: configDir,
      CLAW_HEARTBEATS_DIR: heartbeats,
      ...(real ? {} : { FAKE_DATA: join(work, 'no-fake-data') }),
    };
    const t = timed(['poll', '--json'], env, 3);
    const store = new Database(join(env.CLAW_STATE_DIR, 'claw.db'), { readonly: true });
    const cards = store.prepare(`select value from cache where key = 'workboard:cards:all-boards'`).get()?.value;
    store.close();
    result[read] = { ms: t.ms, cards, counts: JSON.parse(t.stdout).agents };
  }
  rmSync(work, { recursive: true, force: true });
  return {
    cli: real ? 'real openclaw' : 'test/fakes/openclaw (set CLAW_BENCH_OPENCLAW_PATH for the real one)',
    cliMs: +result.cli.ms.toFixed(0),
    dbMs: +result.db.ms.toFixed(0),
    ratio: +(result.cli.ms / result.db.ms).toFixed(1),
    cards: result.db.cards ? JSON.parse(result.db.cards).items.length : 0,
    sameCards: result.cli.cards !== undefined && result.cli.cards === result.db.cards,
    sameCounts: JSON.stringify(result.cli.counts) === JSON.stringify(result.db.counts),
  };
}

export function runPerfBench() {
  const year = statusAfterAYear();
  const poll = pollPaths();
  console.log(
    `  status after a year          fresh ${year.freshMs} ms; after a simulated year (${year.agents} agents, ${year.recordsWritten} records written, ${year.recordsKept} kept, oldest ${year.oldestKeptDays} d, store ${year.storeMB} MB) ${year.yearMs} ms = ${year.ratio}x   (target <= 1.5x)`,
  );
  console.log(
    `                               never pruned (${year.unprunedRecords} records, ${year.unprunedStoreMB} MB, lastRuns by index) ${year.unprunedMs} ms = ${year.unprunedRatio}x (the old window-function query alone: ${year.windowQueryMs} ms); pruning took ${year.catchUpBeats} heartbeats, slowest ${year.slowestBeatMs} ms`,
  );
  console.log(
    `  poll with WorkBoard          CLI ${poll.cliMs} ms (${poll.cli}) / database ${poll.dbMs} ms = ${poll.ratio}x; ${poll.cards} cards, same cards: ${poll.sameCards}, same counts: ${poll.sameCounts}`,
  );
  console.log(JSON.stringify({ statusAfterAYear: year, pollWithWorkboard: poll }));
  return { year, poll };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runPerfBench();
