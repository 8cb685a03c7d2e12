// npm run bench: store admissions per second (1 and 8 processes), uncontended and contended
// admission latency, and the cold start of `claw status --json` against `node -e 0`, on this Node
// and on Node 24 (CLAW_BENCH_NODE24, else .tmp/node24 as .ci/run installs it, else installed there
// from the npm registry's node@24 now). Everything is measured in this one run on this machine;
// figures are ratios and counts.
import { build } from 'esbuild';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { idleFleet, simulateIdleHour } from './idle-hour.mjs';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'claw-bench-'));
const worker = join(work, 'admit-worker.cjs');
// The store's `claw-better-sqlite3` (see build.mjs), here with absolute paths: the worker runs from a temp dir.
const fromRoot = createRequire(join(root, 'package.json'));
let betterSqlite = "throw Object.assign(new Error('better-sqlite3 is not installed'), { code: 'MODULE_NOT_FOUND' });";
try {
  betterSqlite = `module.exports = { Database: require(${JSON.stringify(fromRoot.resolve('better-sqlite3'))}), nativeBinding: ${JSON.stringify(fromRoot.resolve('better-sqlite3/build/Release/better_sqlite3.node'))} };`;
} catch {
  // not installed: the worker needs node:sqlite (Node 22/24)
}
const betterSqliteEntry = {
  name: 'better-sqlite3-entry',
  setup(b) {
    b.onResolve({ filter: /^claw-better-sqlite3$/ }, () => ({ path: 'entry', namespace: 'claw-bsq' }));
    b.onLoad({ filter: /.*/, namespace: 'claw-bsq' }, () => ({ contents: betterSqlite, resolveDir: root, loader: 'js' }));
  },
};
await build({
  entryPoints: [join(root, 'bench/admit-worker.ts')],
  outfile: worker,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': '__clawModuleUrl' },
  banner: { js: `const __clawModuleUrl = ${JSON.stringify(`file://${join(root, 'dist', 'cli.cjs')}`)};` },
  plugins: [betterSqliteEntry],
  logLevel: 'warning',
});

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function runWorkers(count, durationMs, redisUrl, node = process.execPath) {
  const target = redisUrl ?? join(work, `state-${count}`);
  const prefix = `bench:${count}:${Date.now()}:`;
  const startAt = Date.now() + 1500;
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const child = spawn(node, [worker, target, String(durationMs), String(startAt), prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}`))));
        }),
    ),
  ).then((results) => {
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
    return { admittedPerSecond: Math.round(admitted / (durationMs / 1000)), p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) };
  });
}

function median(args, runs, env, node = process.execPath) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync(node, args, { env, cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return quantile(
    times.sort((a, b) => a - b),
    0.5,
  );
}

/** A redis-server of our own on a free port, when one is installed. */
async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

const durationMs = 3000;
const one = await runWorkers(1, durationMs);
const eight = await runWorkers(8, durationMs);
const redis = await startRedis();
const redisOne = redis ? await runWorkers(1, durationMs, redis.url) : undefined;
const redisEight = redis ? await runWorkers(8, durationMs, redis.url) : undefined;
redis?.stop();

// A minimal environment for both sides of the ratio: a machine-wide setting such as
// NODE_EXTRA_CA_CERTS (which costs every node start ~85 ms here) would hide claw's own share.
const env = { PATH: process.env.PATH, HOME: work, CLAW_STATE_DIR: join(work, 'status-state'), CLAW_CONFIG_DIR: join(work, 'status-config') };
const claw = join(root, 'bin/claw');
// Without a roster (limits and cache only) and with the shipped 15-agent roster.
const bare = { ...env };
const withRoster = { ...env, CLAW_HEARTBEATS_DIR: join(root, 'heartbeats') };
execFileSync(process.execPath, [claw, 'status', '--json'], { env: bare, cwd: work, stdio: 'ignore' });
// Interleave the runs so drifting machine load hits all of them alike.
const nodeTimes = [];
const statusTimes = [];
const rosterTimes = [];
for (let round = 0; round < 7; round++) {
  nodeTimes.push(median(['-e', '0'], 3, bare));
  statusTimes.push(median([claw, 'status', '--json'], 3, bare));
  rosterTimes.push(median([claw, 'status', '--json'], 3, withRoster));
}
// An idle heartbeat with a warm cache (after a poll): what cron runs 70 times an hour.
const fleet = idleFleet();
execFileSync(process.execPath, [claw, 'poll'], { env: fleet.env, stdio: 'ignore' });
execFileSync(process.execPath, [claw, 'heartbeat', 'coo', '--no-splay'], { env: fleet.env, stdio: 'ignore' });
const heartbeatTimes = [];
for (let round = 0; round < 7; round++) heartbeatTimes.push(median([claw, 'heartbeat', 'coo', '--no-splay'], 3, fleet.env));
fleet.cleanup();
const heartbeatMs = quantile(
  heartbeatTimes.sort((a, b) => a - b),
  0.5,
);
const nodeMs = quantile(
  nodeTimes.sort((a, b) => a - b),
  0.5,
);
const statusMs = quantile(
  statusTimes.sort((a, b) => a - b),
  0.5,
);
const rosterMs = quantile(
  rosterTimes.sort((a, b) => a - b),
  0.5,
);

// The same cold start on Node 24: node:sqlite instead of better-sqlite3, and a code cache that
// bin/claw writes for Node 24 on its first run there (the warm-up runs below).
function locateNode24() {
  if (process.env.CLAW_BENCH_NODE24) return process.env.CLAW_BENCH_NODE24;
  const dir = join(root, '.tmp', 'node24');
  const bin = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', 'node@24'], { stdio: 'ignore' });
  }
  return bin;
}
let node24;
try {
  node24 = locateNode24();
} catch (err) {
  console.error(`bench: no Node 24 (${err.message.split('\n')[0]}); set CLAW_BENCH_NODE24 to a Node 24 binary`);
}
let onNode24;
if (node24) {
  const version = execFileSync(node24, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  const one24 = await runWorkers(1, durationMs, undefined, node24);
  const env24 = { ...bare, CLAW_STATE_DIR: join(work, 'status-state-24') };
  execFileSync(node24, [claw, 'status', '--json'], { env: env24, cwd: work, stdio: 'ignore' });
  const fleet24 = idleFleet();
  execFileSync(node24, [claw, 'poll'], { env: fleet24.env, stdio: 'ignore' });
  execFileSync(node24, [claw, 'heartbeat', 'coo', '--no-splay'], { env: fleet24.env, stdio: 'ignore' });
  const node24Times = [];
  const status24Times = [];
  const heartbeat24Times = [];
  for (let round = 0; round < 7; round++) {
    node24Times.push(median(['-e', '0'], 3, env24, node24));
    status24Times.push(median([claw, 'status', '--json'], 3, env24, node24));
    heartbeat24Times.push(median([claw, 'heartbeat', 'coo', '--no-splay'], 3, fleet24.env, node24));
  }
  fleet24.cleanup();
  const med = (xs) =>
    quantile(
      xs.sort((a, b) => a - b),
      0.5,
    );
  const [n24, s24, h24] = [med(node24Times), med(status24Times), med(heartbeat24Times)];
  onNode24 = {
    node: version,
    admissionsPerSecond1Process: one24.admittedPerSecond,
    uncontendedLatencyMs: { p50: +one24.p50.toFixed(2), p95: +one24.p95.toFixed(2) },
    nodeMs: +n24.toFixed(2),
    statusJsonMs: +s24.toFixed(2),
    ratio: +(s24 / n24).toFixed(2),
    idleHeartbeatMs: +h24.toFixed(2),
    idleHeartbeatRatio: +(h24 / n24).toFixed(2),
  };
}

const idle = await simulateIdleHour();

const f = (n) => n.toFixed(2);
const report = {
  machine: `${cpus().length} cores, node ${process.version}`,
  sqlite: {
    admissionsPerSecond1Process: one.admittedPerSecond,
    admissionsPerSecond8Processes: eight.admittedPerSecond,
    uncontendedLatencyMs: { p50: +f(one.p50), p95: +f(one.p95) },
    contended8LatencyMs: { p50: +f(eight.p50), p95: +f(eight.p95) },
  },
  redis: redisOne
    ? {
        admissionsPerSecond1Process: redisOne.admittedPerSecond,
        admissionsPerSecond8Processes: redisEight.admittedPerSecond,
        uncontendedLatencyMs: { p50: +f(redisOne.p50), p95: +f(redisOne.p95) },
        contended8LatencyMs: { p50: +f(redisEight.p50), p95: +f(redisEight.p95) },
      }
    : 'redis-server not installed',
  coldStart: {
    nodeMs: +f(nodeMs),
    statusJsonMs: +f(statusMs),
    ratio: +f(statusMs / nodeMs),
    statusJsonWith15AgentRosterMs: +f(rosterMs),
    rosterRatio: +f(rosterMs / nodeMs),
    idleHeartbeatMs: +f(heartbeatMs),
    idleHeartbeatRatio: +f(heartbeatMs / nodeMs),
  },
  coldStartNode24: onNode24 ?? 'no Node 24',
  idleHour: idle,
};
console.log(`claw bench (${report.machine})`);
console.log(`  sqlite admissions/s        1 process: ${one.admittedPerSecond}   8 processes: ${eight.admittedPerSecond}`);
console.log(`  admission latency          uncontended p50 ${f(one.p50)} ms  p95 ${f(one.p95)} ms`);
console.log(`                             8 processes p50 ${f(eight.p50)} ms  p95 ${f(eight.p95)} ms   (target p50 <= 2 ms)`);
if (redisOne) {
  console.log(`  redis admissions/s         1 process: ${redisOne.admittedPerSecond}   8 processes: ${redisEight.admittedPerSecond}`);
  console.log(
    `  redis admission latency    uncontended p50 ${f(redisOne.p50)} ms  p95 ${f(redisOne.p95)} ms; 8 processes p50 ${f(redisEight.p50)} ms  p95 ${f(redisEight.p95)} ms`,
  );
}
console.log(`  cold start                 claw status --json ${f(statusMs)} ms / node -e 0 ${f(nodeMs)} ms = ${f(statusMs / nodeMs)}x   (target <= 1.5x)`);
console.log(`                             with the 15-agent roster ${f(rosterMs)} ms = ${f(rosterMs / nodeMs)}x`);
console.log(`                             claw heartbeat coo (idle, warm cache) ${f(heartbeatMs)} ms = ${f(heartbeatMs / nodeMs)}x`);
if (onNode24) {
  const o = onNode24;
  console.log(
    `  on ${o.node} (node:sqlite)     admissions/s 1 process: ${o.admissionsPerSecond1Process}, uncontended p50 ${f(o.uncontendedLatencyMs.p50)} ms  p95 ${f(o.uncontendedLatencyMs.p95)} ms`,
  );
  console.log(
    `                             claw status --json ${f(o.statusJsonMs)} ms / node -e 0 ${f(o.nodeMs)} ms = ${f(o.ratio)}x; idle heartbeat ${f(o.idleHeartbeatMs)} ms = ${f(o.idleHeartbeatRatio)}x`,
  );
}
const sourceCalls = Object.values(idle.sourceCalls).reduce((a, b) => a + b, 0);
console.log(
  `  idle hour, 15 agents         seed cron: 70 model calls, >= 140 source calls; claw: ${idle.heartbeats} heartbeats + ${idle.polls} polls = ${idle.modelCalls} model calls, ${sourceCalls} source calls`,
);
console.log(JSON.stringify(report));
(await import('./perf.mjs')).runPerfBench();
await (await import('./proxy.mjs')).benchProxy(root);
await (await import('./admission.mjs')).benchAdmission(root);
rmSync(work, { recursive: true, force: true });
