// One store file under many real claw processes now that its -wal/-shm outlive each process (a
// read-only connection is open while the store's connection closes, so no process checkpoints or
// deletes them at exit), cache statistics are tallied with the next write, and bin/claw keeps one
// V8 code cache per command. Node 24 and 22 join from CLAW_TEST_NODE24 / CLAW_TEST_NODE22 (as in
// runtime.test.ts): then their processes share the store with this Node's at the same time.
// Invariants only (exit codes, counts, integrity_check, a size bound), never speed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clawBin, finished, repoRoot, runClaw, sandbox, statusJson, stores, waitFor, type Result } from '../helpers/claw';
import { fleet } from '../helpers/fleet';
import Database from '../helpers/sqlite-db.cjs';
import { otherNodes, self, type NodeBinary } from '../helpers/nodes';

const nodes = [self, ...otherNodes(['CLAW_TEST_NODE24', 'CLAW_TEST_NODE22'])];

function run(node: NodeBinary, args: string[], env: NodeJS.ProcessEnv, killAfterMs?: number): Promise<Result & { killed: boolean }> {
  const child = spawn(node.path, [clawBin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end('');
  let killed = false;
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => (killed = child.kill('SIGKILL')), killAfterMs);
  return finished(child).then((r) => {
    clearTimeout(timer);
    return { ...r, killed };
  });
}

/** integrity_check, and the admissions of `gateway` three ways: its counter, its rows, and the count the triggers keep. */
function inspect(stateDir: string, gateway: string) {
  const db = new Database(join(stateDir, 'claw.db'), { readonly: true, fileMustExist: true });
  try {
    const one = (sql: string, ...params: unknown[]) => (db.prepare(sql).get(...params) as { n: number } | undefined)?.n;
    return {
      integrity: db.pragma('integrity_check', { simple: true }),
      admitted: one(`select value n from counters where scope = ? and name = 'admitted'`, gateway) ?? 0,
      rows: one(`select count(*) n from admissions where gateway = ?`, gateway),
      kept: one(`select value n from meta where key = ?`, `admissions:${gateway}`) ?? 0,
    };
  } finally {
    db.close();
  }
}

const walSize = (stateDir: string) => statSync(join(stateDir, 'claw.db-wal'), { throwIfNoEntry: false })?.size ?? 0;
/** SQLite's own default checkpoint lets the WAL reach ~4 MB; claw checkpoints at 128 pages and cuts it back to 1 MiB. */
const walBound = 2 * 1024 * 1024;

describe('one SQLite store under many claw processes (its -wal/-shm kept between processes)', () => {
  it('poll, heartbeats, calls, status and cache stats at once, over a hundred runs: exit 0 with clean stderr, every admission counted once, integrity ok, the WAL bounded', async () => {
    const agents = ['coo', 'secretary', 'architect', 'lawyer'];
    const f = fleet({ agents });
    f.writeConfig({ gateways: { t: { limit: 100_000, window: '1h' } } });
    const kinds = [
      ['poll'],
      ...agents.map((a) => ['heartbeat', a, '--no-splay']),
      ['call', '--gateway', 't', '--', 'true'],
      ['call', '--gateway', 't', '--', 'true'],
      ['call', '--gateway', 't', '--', 'true'],
      ['status', '--json'],
      ['cache', 'stats', '--json'],
      ['heartbeat', 'coo', '--dry-run', '--no-splay'],
    ];
    // One process of each kind at a time (an agent's heartbeats never overlap: a second would be skipped), each on the next Node.
    let calls = 0;
    let maxWal = 0;
    const failures: string[] = [];
    for (let wave = 0; wave < 12; wave++) {
      const batch = kinds.map((args, i) => ({ args, node: nodes[(wave + i) % nodes.length]! }));
      const results = await Promise.all(batch.map(({ args, node }) => run(node, args, f.env)));
      results.forEach((r, i) => {
        const { args, node } = batch[i]!;
        if (args[0] === 'call') calls++;
        if (r.code !== 0 || r.stderr !== '') failures.push(`${node.version} ${args.join(' ')}: exit ${r.code} ${r.stderr.trim()}`);
      });
      maxWal = Math.max(maxWal, walSize(f.stateDir));
    }
    expect(failures).toEqual([]);
    expect(existsSync(join(f.stateDir, 'claw.db-wal')), 'the -wal outlives the processes').toBe(true);
    expect(maxWal, `largest -wal seen: ${maxWal} bytes`).toBeLessThanOrEqual(walBound);
    expect(inspect(f.stateDir, 't')).toEqual({ integrity: 'ok', admitted: calls, rows: calls, kept: calls });
  });

  it('kill -9 at any point (inside a write, while closing): every other process exits 0, the store opens and passes integrity_check, and each admission is counted once', async () => {
    const box = sandbox();
    box.writeConfig({ gateways: { t: { limit: 100_000, window: '1h' } } });
    const log = join(box.root, 'starts.log');
    const call = ['call', '--gateway', 't', '--', 'sh', '-c', `echo x >> "${log}"`];
    expect((await run(self, call, box.env)).code).toBe(0);
    let spawned = 1;
    const failures: string[] = [];
    for (let wave = 0; wave < 6; wave++) {
      // Every other process is killed, at delays spread over a process's whole life (start, admission, the command, close).
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => run(nodes[(wave + i) % nodes.length]!, call, box.env, i % 2 ? ((wave * 12 + i) * 37) % 450 : undefined)),
      );
      spawned += results.length;
      for (const r of results) if (!r.killed && (r.code !== 0 || r.stderr !== '')) failures.push(`exit ${r.code} ${r.stderr.trim()}`);
    }
    expect(failures).toEqual([]);
    for (const node of nodes) expect((await run(node, call, box.env)).code, node.version).toBe(0);
    spawned += nodes.length;
    const started = readFileSync(log, 'utf8').trim().split('\n').length;
    const store = inspect(box.stateDir, 't');
    expect(store).toMatchObject({ integrity: 'ok', rows: store.admitted, kept: store.admitted });
    // Admitted before it starts: never a start without its admission, never an admission without its process.
    expect(store.admitted).toBeGreaterThanOrEqual(started);
    expect(store.admitted).toBeLessThanOrEqual(spawned);
    expect(walSize(box.stateDir)).toBeLessThanOrEqual(walBound);
  });

  it('claw.db moved aside while nothing runs (the fix claw names for a broken store), its -wal/-shm left behind: the next 12 processes at once start a new, consistent store', async () => {
    for (const node of nodes) {
      const box = sandbox();
      box.writeConfig({ gateways: { t: { limit: 100_000, window: '1h' } } });
      for (let i = 0; i < 5; i++) expect((await run(node, ['call', '--gateway', 't', '--', 'true'], box.env)).code).toBe(0);
      expect(existsSync(join(box.stateDir, 'claw.db-wal')), node.version).toBe(true);
      renameSync(join(box.stateDir, 'claw.db'), join(box.stateDir, 'claw.db.broken'));
      const results = await Promise.all(Array.from({ length: 12 }, () => run(node, ['call', '--gateway', 't', '--', 'true'], box.env)));
      expect(
        results.filter((r) => r.code !== 0 || r.stderr !== '').map((r) => `exit ${r.code} ${r.stderr}`),
        node.version,
      ).toEqual([]);
      // The old -wal is never replayed into the new file: only the 12 new admissions.
      expect(inspect(box.stateDir, 't'), node.version).toEqual({ integrity: 'ok', admitted: 12, rows: 12, kept: 12 });
    }
  });
  it('-wal/-shm deleted under a process that has not written (claw proxy before its first request): once it is gone, everything admitted before is still there', async () => {
    const box = sandbox();
    box.writeConfig({ gateways: { t: { limit: 100, window: '1h' } } });
    for (let i = 0; i < 5; i++) expect((await runClaw(['call', '--gateway', 't', '--', 'true'], box.env)).code).toBe(0);
    const proxy = spawn(process.execPath, [clawBin, 'proxy', '--port', '0'], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proxy.stdout!.on('data', (d) => (out += d));
    const done = finished(proxy);
    await waitFor(() => out.includes('listening'), 10_000, 20);
    expect(readdirSync(box.stateDir).sort()).toEqual(['claw.db', 'claw.db-shm', 'claw.db-wal']);
    for (const file of ['claw.db-wal', 'claw.db-shm']) rmSync(join(box.stateDir, file));
    proxy.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(0);
    const status = await statusJson(box.env);
    expect(status.gateways.find((g: { name: string }) => g.name === 't').counters.admitted).toBe(5);
  });
});

describe.each(stores)('cache statistics tallied with the next write (%s store)', (store) => {
  it('heartbeats at once on a warm cache, dry runs among them (nothing to write but the tallies): hits + misses grow by exactly one per cached look-up, never lost, never counted twice', async () => {
    const agents = ['coo', 'secretary', 'architect', 'lawyer'];
    const f = fleet({ agents: [...agents, 'designer'], store });
    f.writeConfig({ cache: { ttl: { multica: '1h', workboard: '1h', config: '1h' } } });
    const stats = async () => {
      const r = await run(self, ['cache', 'stats', '--json'], f.env);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const { hits, misses } = JSON.parse(r.stdout) as { hits: number; misses: number };
      return hits + misses;
    };
    expect((await run(self, ['poll'], f.env)).code).toBe(0);
    const before = await stats();
    expect((await run(self, ['heartbeat', 'coo', '--no-splay'], f.env)).code).toBe(0);
    const perHeartbeat = (await stats()) - before;
    expect(perHeartbeat, 'an idle heartbeat looks up its shared sources in the cache').toBeGreaterThan(0);
    let heartbeats = 0;
    for (let wave = 0; wave < 6; wave++) {
      const results = await Promise.all(agents.map((a, i) => run(nodes[(wave + i) % nodes.length]!, ['heartbeat', a, '--no-splay'], f.env)));
      for (const r of results) expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
      // A dry run stores no run record and no memory: its tallies are committed when it closes the store.
      const dry = await run(nodes[wave % nodes.length]!, ['heartbeat', 'designer', '--no-splay', '--dry-run', '--json'], f.env);
      expect(dry).toMatchObject({ code: 0, stderr: '' });
      heartbeats += results.length + 1;
    }
    expect(await stats()).toBe(before + perHeartbeat * (heartbeats + 1));
  });
});

describe('bin/claw code cache per command', () => {
  it('12 processes at once on a Node with no cache yet: all exit 0 with clean stderr, one cache file that V8 accepts, no temp file left', async () => {
    const node = nodes[nodes.length - 1]!;
    const dist = join(repoRoot, 'dist');
    const cache = join(dist, `claw-status.cjs.node-${node.version}-${process.arch}.cache`);
    rmSync(cache, { force: true });
    const box = sandbox();
    box.writeConfig({ gateways: { t: { limit: 100, window: '1h' } } });
    expect((await run(node, ['call', '--gateway', 't', '--', 'true'], box.env)).code).toBe(0);
    for (let round = 0; round < 2; round++) {
      // Round 0 races to write the cache; round 1 starts from it.
      const results = await Promise.all(Array.from({ length: 12 }, () => run(node, ['status', '--json'], box.env)));
      expect(
        results.filter((r) => r.code !== 0 || r.stderr !== '').map((r) => `exit ${r.code} ${r.stderr}`),
        `${node.version} round ${round}`,
      ).toEqual([]);
      for (const r of results) expect(JSON.parse(r.stdout).gateways.find((g: { name: string }) => g.name === 't')).toMatchObject({ used: 1 });
      expect(readdirSync(dist).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    }
    const check = spawnSync(
      node.path,
      [
        '-e',
        `const fs = require('fs'), vm = require('vm'), Module = require('module');
         const file = ${JSON.stringify(join(dist, 'claw-status.cjs'))};
         const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: fs.readFileSync(${JSON.stringify(cache)}) });
         process.stdout.write(String(script.cachedDataRejected));`,
      ],
      { encoding: 'utf8' },
    );
    expect(check.stdout, node.version).toBe('false');
  });
});
