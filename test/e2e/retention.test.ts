// Bounded growth: run records are kept for a retention (default 30 days), pruned at most hourly by
// the heartbeats themselves; the logs the crontab lines append to are rotated past a size cap.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../helpers/sqlite-db.cjs';
import Redis from 'ioredis';
import { describe, expect, it } from 'vitest';
import { clawBin, runClaw, stores } from '../helpers/claw';
import { fleet, type Fleet } from '../helpers/fleet';

const day = 86_400_000;

async function beat(h: Fleet, agent: string, offsetMs: number): Promise<void> {
  const result = await runClaw(['heartbeat', agent, '--no-splay'], { ...h.env, CLAW_CLOCK_OFFSET_MS: String(offsetMs) });
  expect(result.code, result.stderr).toBe(0);
}

/** Every stored run's start, per agent, read from the store itself. */
async function storedRuns(h: Fleet, agents: string[]): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  if (h.store === 'sqlite') {
    const db = new Database(join(h.stateDir, 'claw.db'), { readonly: true });
    for (const agent of agents)
      out[agent] = (db.prepare('select started_at from runs where agent = ? order by started_at').all(agent) as { started_at: number }[]).map(
        (r) => r.started_at,
      );
    db.close();
    return out;
  }
  const prefix = JSON.parse(readFileSync(join(h.configDir, 'config.json'), 'utf8')).storePrefix as string;
  const redis = new Redis(process.env.CLAW_TEST_REDIS_URL!);
  for (const agent of agents)
    out[agent] = (await redis.lrange(`${prefix}runs:${agent}`, 0, -1)).map((j) => JSON.parse(j).startedAt as number).sort((a, b) => a - b);
  redis.disconnect();
  return out;
}

describe.each(stores)('run records on %s', (store) => {
  it('after heartbeats spread over 400 simulated days, only the runs inside the 30-day retention are left, and status still reads the last one', async () => {
    const agents = ['coo', 'secretary'];
    const h = fleet({ agents, store });
    const days = Array.from({ length: 26 }, (_, i) => i * 16); // 0, 16, ... 400
    const base = Date.now();
    for (const d of days) await Promise.all(agents.map((a) => beat(h, a, d * day)));
    const runs = await storedRuns(h, agents);
    for (const agent of agents) {
      // Days 384 and 400 are inside 30 days of the last run; day 368 and everything before are gone.
      expect(runs[agent]!.map((t) => Math.round((t - base) / day))).toEqual([384, 400]);
    }
    const status = JSON.parse((await runClaw(['status', '--json'], { ...h.env, CLAW_CLOCK_OFFSET_MS: String(400 * day) })).stdout);
    for (const a of status.agents) expect(Math.round((Date.parse(a.lastRun.startedAt) - base) / day)).toBe(400);
  });

  it('runs.retention chooses how long runs are kept', async () => {
    const h = fleet({ agents: ['coo'], store });
    h.writeConfig({ runs: { retention: '100d' } });
    const base = Date.now();
    for (let d = 0; d <= 400; d += 40) await beat(h, 'coo', d * day);
    const runs = await storedRuns(h, ['coo']);
    expect(runs.coo!.map((t) => Math.round((t - base) / day))).toEqual([320, 360, 400]);
  });
});

describe('pruning the SQLite store', () => {
  it('runs at most once an hour: a heartbeat within the hour leaves an expired run, one past it deletes it', async () => {
    const h = fleet({ agents: ['coo'] });
    await beat(h, 'coo', 0);
    const insertOld = () => {
      const db = new Database(join(h.stateDir, 'claw.db'));
      db.prepare(`insert into runs (agent, started_at, ended_at, outcome, detail) values ('coo', ?, ?, 'idle', '{}')`).run(
        Date.now() - 40 * day,
        Date.now() - 40 * day,
      );
      db.close();
    };
    insertOld();
    await beat(h, 'coo', 10 * 60_000);
    expect((await storedRuns(h, ['coo'])).coo).toHaveLength(3);
    await beat(h, 'coo', 2 * 3_600_000);
    expect((await storedRuns(h, ['coo'])).coo).toHaveLength(3);
    expect(Math.min(...(await storedRuns(h, ['coo'])).coo!)).toBeGreaterThan(Date.now() - day);
  });
});

describe('cron logs', () => {
  /** A heartbeat the way a crontab line starts it: stdout and stderr appended to the agent's log. */
  function cronBeat(h: Fleet, log: string): Promise<number> {
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [clawBin, 'heartbeat', 'coo'], { env: { ...h.env, FAKE_WORKBOARD_MODE: 'fail' }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    return new Promise((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  }

  it('a log over logs.maxSize is rotated by the run that appends to it, keeping logs.keep old files', async () => {
    const h = fleet({ agents: ['coo'] });
    h.writeConfig({ logs: { maxSize: '64KB', keep: 2 } });
    const dir = join(h.stateDir, 'logs');
    mkdirSync(dir, { recursive: true });
    const log = join(dir, 'coo.log');
    const filler = `${'x'.repeat(1023)}\n`.repeat(100); // 100 KB
    for (let round = 0; round < 4; round++) {
      appendFileSync(log, filler);
      expect(await cronBeat(h, log)).toBe(0);
      // This run's own lines follow the file it rotated: the degraded WorkBoard is reported in coo.log.1.
      expect(readFileSync(`${log}.1`, 'utf8')).toMatch(/degraded[^\n]*\n[^]*workboard unavailable/);
      expect(existsSync(log)).toBe(false);
    }
    expect(readdirSync(dir).sort()).toEqual(['coo.log.1', 'coo.log.2']);
    // A small log is left alone.
    appendFileSync(log, 'one line\n');
    expect(await cronBeat(h, log)).toBe(0);
    expect(statSync(log).size).toBeLessThan(64 * 1024);
    expect(readFileSync(log, 'utf8')).toMatch(/^one line\n.*degraded/);
  });
});
