// The runtimes claw meets: Node 24 and 22 (node:sqlite) and Node 20 (better-sqlite3), an install
// moved between them, an unsafe SQLite, and the file-system faults under the store.
// Other Node binaries come from CLAW_TEST_NODE24 / CLAW_TEST_NODE22 / CLAW_TEST_NODE20 (.ci/run
// installs node@24 from the npm registry); the tests for a Node that is not given are skipped,
// except Node 24 under CI.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { busiestWindow, clawBin, finished, readStarts, repoRoot, sandbox, waitFor, type Result } from '../helpers/claw';
import { fleet } from '../helpers/fleet';
import Database from '../helpers/sqlite-db.cjs';
import { otherNodes, self, type NodeBinary } from '../helpers/nodes';
import { spawn } from 'node:child_process';

if (process.env.CI && !process.env.CLAW_TEST_NODE24 && !process.version.startsWith('v24.')) {
  throw new Error('CI runs the runtime tests on Node 24: .ci/run installs node@24 and sets CLAW_TEST_NODE24');
}
const others = otherNodes(['CLAW_TEST_NODE24', 'CLAW_TEST_NODE22', 'CLAW_TEST_NODE20']);
const nodes = [self, ...others];
const node24 = nodes.find((n) => n.major === 24);
const node22 = nodes.find((n) => n.major === 22);

function run(node: NodeBinary, args: string[], env: NodeJS.ProcessEnv, options: { bin?: string; nodeArgs?: string[]; wrap?: string[] } = {}): Promise<Result> {
  const argv = [...(options.nodeArgs ?? []), options.bin ?? clawBin, ...args];
  const [command, ...rest] = options.wrap ? [...options.wrap, node.path, ...argv] : [node.path, ...argv];
  const child = spawn(command!, rest, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.end('');
  return finished(child);
}

function oneLine(result: Result): string {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}

/** A preload that records every native addon the process loads. */
function addonLog(dir: string): { nodeArgs: string[]; loaded(): string[] } {
  const log = join(dir, 'dlopen.log');
  const hook = join(dir, 'dlopen-hook.cjs');
  writeFileSync(
    hook,
    `const fs = require('node:fs'); const dlopen = process.dlopen;
     process.dlopen = function (module, file, ...rest) { fs.appendFileSync(${JSON.stringify(log)}, file + '\\n'); return dlopen.call(this, module, file, ...rest); };`,
  );
  return { nodeArgs: ['-r', hook], loaded: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []) };
}

describe('supported Node versions', () => {
  it.skipIf(!node24)('on Node 24: 20 runs each of poll --json, heartbeat and status --json exit 0, and the better-sqlite3 addon is never loaded', async () => {
    const f = fleet({ agents: ['coo', 'secretary', 'architect'] });
    f.writeTodo('coo', '- [ ] write the weekly report\n');
    const addons = addonLog(f.root);
    const failures: string[] = [];
    for (let round = 0; round < 20; round++) {
      // One of each at a time: three processes on one store.
      const results = await Promise.all([
        run(node24!, ['poll', '--json'], f.env, { nodeArgs: addons.nodeArgs }),
        run(node24!, ['heartbeat', 'secretary', '--no-splay'], f.env, { nodeArgs: addons.nodeArgs }),
        run(node24!, ['status', '--json'], f.env, { nodeArgs: addons.nodeArgs }),
      ]);
      results.forEach((r, i) => {
        if (r.code !== 0) failures.push(`round ${round} command ${i}: exit ${r.code}: ${r.stderr.trim()}`);
      });
      expect(JSON.parse(results[0]!.stdout)).toMatchObject({ ok: true });
      expect(JSON.parse(results[2]!.stdout)).toMatchObject({ ok: true, store: { kind: 'sqlite' } });
    }
    expect(failures).toEqual([]);
    expect(addons.loaded()).toEqual([]);
  });

  it('an install built on one Node runs on every other (nvm use after npm ci): clean stderr, and a code cache of its own that V8 accepts', async () => {
    for (const node of nodes) {
      const box = sandbox();
      box.writeConfig({ gateways: { t: { limit: 5, window: '2s' } } });
      const called = await run(node, ['call', '--gateway', 't', '--', 'true'], box.env);
      expect(called, node.version).toMatchObject({ code: 0, stderr: '' });
      const status = await run(node, ['status', '--json'], box.env);
      expect(status, node.version).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(status.stdout).gateways.find((g: { name: string }) => g.name === 't')).toMatchObject({ used: 1 });
      // The first run of a command on a Node writes its cache (when dist/ is writable); V8 takes it on the next start.
      const cache = join(repoRoot, 'dist', `claw-status.cjs.node-${node.version}-${process.arch}.cache`);
      expect(existsSync(cache), node.version).toBe(true);
      const check = spawnSync(
        node.path,
        [
          '-e',
          `const fs = require('fs'), vm = require('vm'), Module = require('module');
           const file = ${JSON.stringify(join(repoRoot, 'dist', 'claw-status.cjs'))};
           const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: fs.readFileSync(${JSON.stringify(cache)}) });
           process.stdout.write(String(script.cachedDataRejected));`,
        ],
        { encoding: 'utf8' },
      );
      expect(check.stdout, node.version).toBe('false');
      // A typo is no command: the whole program answers it, and nothing is named after it.
      const typo = await run(node, ['heartbaet', 'coo'], box.env);
      expect(typo.code, node.version).toBe(64);
      expect(typo.stderr, node.version).toContain('(Did you mean heartbeat?)');
      expect(readdirSync(join(repoRoot, 'dist')).filter((name) => name.includes('heartbaet'))).toEqual([]);
    }
  });

  it.skipIf(!node22)("on Node 22, node:sqlite's ExperimentalWarning never reaches stderr (cron would mail it every run)", async () => {
    const f = fleet({ agents: ['coo'] });
    for (const args of [
      ['status', '--json'],
      ['heartbeat', 'coo', '--no-splay'],
      ['call', '--gateway', 't', '--', 'true'],
      ['cache', 'stats'],
    ]) {
      const result = await run(node22!, args, f.env);
      expect(result, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
    }
  });

  it('an install without better-sqlite3 works where Node has node:sqlite, and on Node 20 says what to do (exit 69, one line)', async () => {
    // bin/ and dist/ alone: no node_modules at all.
    const install = mkdtempSync(join(tmpdir(), 'claw-install-'));
    cpSync(join(repoRoot, 'bin'), join(install, 'bin'), { recursive: true });
    cpSync(join(repoRoot, 'dist'), join(install, 'dist'), { recursive: true });
    for (const node of nodes) {
      const box = sandbox();
      const result = await run(node, ['call', '--gateway', 't', '--', 'true'], box.env, { bin: join(install, 'bin', 'claw') });
      if (node.major >= 22) {
        expect(result, node.version).toMatchObject({ code: 0, stderr: '' });
      } else {
        expect(result.code, node.version).toBe(69);
        expect(oneLine(result)).toMatch(
          /^claw: no safe SQLite for the state store: Node v20\.\S+ has no node:sqlite; better-sqlite3 is not installed; .*npm install better-sqlite3@12/,
        );
      }
    }
    rmSync(install, { recursive: true, force: true });
  });

  const node20 = nodes.find((n) => n.major === 20);
  it.skipIf(!node20)('on Node 20, better-sqlite3 installed beside claw rather than inside it (hoisted) is found and loaded from there', async () => {
    // node_modules/claw/{bin,dist} and node_modules/better-sqlite3: not where the build found it.
    const root = mkdtempSync(join(tmpdir(), 'claw-hoisted-'));
    const claw = join(root, 'node_modules', 'claw');
    const addonDir = join(root, 'node_modules', 'better-sqlite3');
    cpSync(join(repoRoot, 'bin'), join(claw, 'bin'), { recursive: true });
    cpSync(join(repoRoot, 'dist'), join(claw, 'dist'), { recursive: true });
    mkdirSync(join(addonDir, 'build', 'Release'), { recursive: true });
    cpSync(join(repoRoot, 'node_modules', 'better-sqlite3', 'package.json'), join(addonDir, 'package.json'));
    cpSync(
      join(repoRoot, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'),
      join(addonDir, 'build', 'Release', 'better_sqlite3.node'),
    );
    const box = sandbox();
    const addons = addonLog(root);
    const result = await run(node20!, ['status', '--json'], box.env, { bin: join(claw, 'bin', 'claw'), nodeArgs: addons.nodeArgs });
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, store: { kind: 'sqlite' } });
    expect(addons.loaded()).toEqual([join(addonDir, 'build', 'Release', 'better_sqlite3.node')]);
    rmSync(root, { recursive: true, force: true });
  });
});

describe('an unsafe SQLite is refused at run time', () => {
  it('SQLite 3.7.0 to 3.51.2 (but not 3.50.7+, 3.44.6+): one line naming the fix, exit 69, under --json too; the store is never opened', async () => {
    for (const node of nodes) {
      for (const [version, safe] of [
        ['3.51.2', false],
        ['3.44.5', false],
        ['3.7.0', false],
        ['3.51.3', true],
        ['3.50.7', true],
        ['3.44.6', true],
      ] as const) {
        const box = sandbox({ CLAW_TEST_SQLITE_VERSION: version });
        const result = await run(node, ['call', '--gateway', 't', '--', 'true'], box.env);
        if (safe) {
          expect(result, `${node.version} ${version}`).toMatchObject({ code: 0, stderr: '' });
          continue;
        }
        expect(result.code, `${node.version} ${version}`).toBe(69);
        expect(oneLine(result)).toMatch(
          new RegExp(`SQLite ${version.replace(/\./g, '\\.')}, which can corrupt a WAL database .*fixed in 3\\.51\\.3, 3\\.50\\.7, 3\\.44\\.6.*use Node 24`),
        );
        expect(existsSync(join(box.stateDir, 'claw.db-wal'))).toBe(false);
        const json = await run(node, ['status', '--json'], box.env);
        expect(json.code).toBe(69);
        expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { type: 'unavailable', exitCode: 69, message: expect.stringContaining('3.51.3') } });
      }
    }
  });

  it('no usable driver is exit 69 and one line, never 70', async () => {
    for (const node of nodes) {
      // Node 24 never loads better-sqlite3; Node 20 has no node:sqlite.
      const driver = node.major >= 24 ? 'better-sqlite3' : node.major < 22 ? 'node:sqlite' : undefined;
      if (!driver) continue;
      const box = sandbox({ CLAW_SQLITE_DRIVER: driver });
      const result = await run(node, ['call', '--gateway', 't', '--', 'true'], box.env);
      expect(result.code, node.version).toBe(69);
      expect(oneLine(result)).toMatch(/^claw: no safe SQLite for the state store: .*; use Node 24/);
    }
  });
});

const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && spawnSync('unshare', ['-m', 'true']).status === 0;
// Another user must also be able to reach the checkout (a clone under a 0700 mktemp dir is not).
const canSetpriv = isRoot && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', clawBin]).status === 0;

describe('file-system faults under the store: one line naming the path and the fix, exit 69', () => {
  const call = ['call', '--gateway', 't', '--', 'true'];

  it('the store path is a directory; the state dir is a file', async () => {
    for (const node of nodes) {
      const box = sandbox();
      mkdirSync(join(box.stateDir, 'claw.db'), { recursive: true });
      const dirDb = await run(node, call, box.env);
      expect(dirDb.code, node.version).toBe(69);
      expect(oneLine(dirDb)).toBe(
        `claw: state store ${box.stateDir}/claw.db is a directory, not a SQLite file: move it aside (mv ${box.stateDir}/claw.db ${box.stateDir}/claw.db.broken) and claw will start a new store`,
      );
      const fileDir = sandbox();
      writeFileSync(fileDir.stateDir, 'not a directory');
      const result = await run(node, call, fileDir.env);
      expect(result.code, node.version).toBe(69);
      expect(oneLine(result)).toBe(
        `claw: state dir ${fileDir.stateDir} is not a directory: move it aside, or set CLAW_STATE_DIR (or --state-dir) to a directory`,
      );
      const json = await run(node, ['status', '--json'], fileDir.env);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { exitCode: 69 } });
    }
  });

  it.skipIf(!canSetpriv)("another user's store (EACCES)", async () => {
    for (const node of nodes) {
      const box = sandbox();
      box.writeConfig({});
      expect((await run(node, call, box.env)).code).toBe(0);
      chmodSync(box.root, 0o755); // the other user may look into the sandbox, not into the 0700 state dir
      chmodSync(box.configDir, 0o755);
      chmodSync(join(box.configDir, 'config.json'), 0o644);
      const result = await run(node, call, box.env, { wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] });
      expect(result.code, node.version).toBe(69);
      expect(oneLine(result)).toMatch(
        new RegExp(`^claw: state store ${box.stateDir}/claw\\.db: permission denied .*run claw as the user who owns ${box.stateDir}, or set CLAW_STATE_DIR`),
      );
    }
  });

  it.skipIf(!canUnshare)('a read-only mount', async () => {
    for (const node of nodes) {
      const box = sandbox();
      expect((await run(node, call, box.env)).code).toBe(0);
      const d = box.stateDir;
      const result = await run(node, call, box.env, {
        wrap: ['unshare', '-m', 'sh', '-c', `mount --bind ${d} ${d} && mount -o remount,bind,ro ${d} && exec "$0" "$@"`],
      });
      expect(result.code, node.version).toBe(69);
      expect(oneLine(result)).toMatch(
        new RegExp(`^claw: state store ${d}/claw\\.db is on a read-only file system .*set CLAW_STATE_DIR to a writable directory$`),
      );
    }
  });

  it.skipIf(!canUnshare)('a full disk', async () => {
    for (const node of nodes) {
      const box = sandbox();
      mkdirSync(box.stateDir);
      const d = box.stateDir;
      const fill = `mount -t tmpfs -o size=256k tmpfs ${d} && (dd if=/dev/zero of=${d}/fill bs=4k count=1000 2>/dev/null; true) && exec "$0" "$@"`;
      const full = new RegExp(`state store ${d}/claw\\.db: no space left on its file system .*free some space there`);
      const result = await run(node, call, box.env, { wrap: ['unshare', '-m', 'sh', '-c', fill] });
      expect(result.code, node.version).toBe(69);
      expect(oneLine(result)).toMatch(full);
      const json = await run(node, ['status', '--json'], box.env, { wrap: ['unshare', '-m', 'sh', '-c', fill] });
      expect(json.code, node.version).toBe(69);
      expect(JSON.parse(json.stdout).error.message).toMatch(full);
    }
  });
});

describe('the -wal/-shm files deleted under running processes', () => {
  it('is never seen in a process that holds claw.db without any -shm (a store not yet switched to WAL)', async () => {
    const box = sandbox();
    mkdirSync(box.stateDir, { recursive: true });
    const db = join(box.stateDir, 'claw.db');
    // A reader of a new, rollback-journal store: SQLite holds its lock on claw.db, and there is no -shm at all.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `let Database; try { Database = require('node:sqlite').DatabaseSync; } catch { Database = require(${JSON.stringify(join(repoRoot, 'node_modules', 'better-sqlite3'))}); }
         const db = new Database(${JSON.stringify(db)});
         db.exec('create table if not exists t (x)'); db.exec('begin'); db.prepare('select count(*) from t').get();
         process.stdout.write('holding\\n');
         setTimeout(() => { db.exec('commit'); db.close(); }, 1500);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const readerDone = new Promise((r) => reader.once('close', r));
    let out = '';
    reader.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('holding'), 10_000, 10);
    const result = await run(self, ['call', '--gateway', 't', '--', 'true'], box.env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    await readerDone;
  });

  it('is never seen where nothing was deleted: 12 processes creating one store, or starting on a quiet one, at once all exit 0', async () => {
    for (const node of nodes) {
      for (let round = 0; round < 4; round++) {
        const box = sandbox();
        // Odd rounds: a store in WAL mode without -wal/-shm while nothing runs (as an older claw's
        // last process left it, checkpointed): the next starts must not take that for a split.
        if (round % 2 === 1) {
          expect((await run(node, ['call', '--gateway', 'u', '--', 'true'], box.env)).code).toBe(0);
          expect(existsSync(join(box.stateDir, 'claw.db-wal')), 'a closed store keeps its -wal').toBe(true);
          const copy = new Database(join(box.stateDir, 'claw.db'));
          copy.pragma('wal_checkpoint(TRUNCATE)');
          copy.close();
          for (const file of ['claw.db-wal', 'claw.db-shm']) rmSync(join(box.stateDir, file), { force: true });
        }
        const results = await Promise.all(Array.from({ length: 12 }, () => run(node, ['call', '--gateway', 't', '--', 'true'], box.env)));
        expect(
          results.filter((r) => r.code !== 0).map((r) => r.stderr),
          node.version,
        ).toEqual([]);
      }
    }
  });

  it('is detected: exit 69 (never 70), and never more admissions than the limit in any window', async () => {
    for (const node of nodes) {
      const box = sandbox();
      const windowMs = 2000;
      // A margin of 1 s: a start is logged by `sh` after its admission, later still while a dozen
      // processes boot; a store split in two admits within about 100 ms and is still caught.
      box.writeConfig({ gateways: { t: { limit: 1, window: '2s', margin: '1s' } } });
      const log = join(box.root, 'starts.log');
      const command = ['call', '--gateway', 't', '--max-wait', '20s', '--', 'sh', '-c', `echo "start $(date +%s%3N)" >> "${log}"`];
      expect((await run(node, ['call', '--gateway', 'u', '--', 'true'], box.env)).code).toBe(0);
      const before = Array.from({ length: 6 }, () => run(node, command, box.env));
      await waitFor(() => readStarts(log).length >= 1, 20_000, 20);
      // Let the waiters queue (at least one, however slowly they boot), then pull the files out from under them.
      await waitFor(
        async () =>
          JSON.parse((await run(node, ['status', '--json'], box.env)).stdout).gateways.find((g: { name: string }) => g.name === 't').waiters.normal >= 1,
      );
      await new Promise((r) => setTimeout(r, 300));
      unlinkSync(join(box.stateDir, 'claw.db-wal'));
      unlinkSync(join(box.stateDir, 'claw.db-shm'));
      const after = Array.from({ length: 5 }, () => run(node, command, box.env));
      const results = await Promise.all([...before, ...after]);
      const codes = results.map((r) => r.code);
      expect(
        codes.filter((c) => ![0, 69, 75].includes(c)),
        results.map((r) => r.stderr).join(''),
      ).toEqual([]);
      const starts = readStarts(log).map((s) => s.at);
      expect(busiestWindow(starts, windowMs), `${node.version}: ${starts.join(' ')}`).toBeLessThanOrEqual(1);
      expect(codes.filter((c) => c === 69).length, node.version).toBeGreaterThan(0);
      for (const r of results.filter((r) => r.code === 69)) expect(oneLine(r)).toMatch(/-wal\/-shm files .*never delete -wal\/-shm files while claw runs$/);
      // Once the old processes are gone the store works again, and nothing they admitted is lost.
      expect((await run(node, ['call', '--gateway', 'u', '--', 'true'], box.env)).code).toBe(0);
      const status = JSON.parse((await run(node, ['status', '--json'], box.env)).stdout);
      expect(status.gateways.find((g: { name: string }) => g.name === 't').counters.admitted, node.version).toBe(starts.length);
    }
  });
});
