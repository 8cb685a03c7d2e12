// The admission benchmark, the one place that measures the store's admissions (bench/run.mjs
// reports its figures; alone: node bench/admission.mjs):
// - the latency of one admission decision with a FULL window at limit 40 and at limit 10,000 (the
//   worst case: what every waiting process repeats every 50-500 ms), on both stores;
// - admissions/s with 1 and 8 processes on both stores, and their latency (1 = uncontended,
//   8 = contended).
// Everything in one run on this machine: compare the ratios, not the absolute figures.
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const f = (n) => n.toFixed(2);

/** The store's `claw-better-sqlite3` (see build.mjs), with absolute paths: the worker runs from a temp dir. */
function betterSqliteEntry(root) {
  const fromRoot = createRequire(join(root, 'package.json'));
  let contents = "throw Object.assign(new Error('better-sqlite3 is not installed'), { code: 'MODULE_NOT_FOUND' });";
  try {
    contents = `module.exports = { Database: require(${JSON.stringify(fromRoot.resolve('better-sqlite3'))}), nativeBinding: ${JSON.stringify(fromRoot.resolve('better-sqlite3/build/Release/better_sqlite3.node'))} };`;
  } catch {
    // not installed: the worker needs node:sqlite (Node 22/24)
  }
  return {
    name: 'better-sqlite3-entry',
    setup(b) {
      b.onResolve({ filter: /^claw-better-sqlite3$/ }, () => ({ path: 'entry', namespace: 'claw-bsq' }));
      b.onLoad({ filter: /.*/, namespace: 'claw-bsq' }, () => ({ contents, resolveDir: root, loader: 'js' }));
    },
  };
}

async function bundleWorker(root, work) {
  const worker = join(work, 'admission-worker.cjs');
  await build({
    entryPoints: [join(root, 'bench/admission-worker.ts')],
    outfile: worker,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    define: { 'import.meta.url': '__clawModuleUrl' },
    banner: { js: `const __clawModuleUrl = ${JSON.stringify(`file://${join(root, 'dist', 'cli.cjs')}`)};` },
    plugins: [betterSqliteEntry(root)],
    logLevel: 'warning',
  });
  return worker;
}

// CLAW_BENCH_ADMISSION_NODE: run the workers on another Node (e.g. 24, where the store uses node:sqlite).
const defaultNode = process.env.CLAW_BENCH_ADMISSION_NODE || process.execPath;

function runWorker(worker, args, node = defaultNode) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [worker, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`admission worker ${args[0]} exited ${code}`))));
  });
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

let runs = 0;
const stateOf = (work, target) => target ?? join(work, `state-${++runs}`);
const prefixOf = () => `bench:${++runs}:${Date.now()}:`;

/** p50/p95 of a full window's decision at each limit; rounds alternate so load drift hits both. */
async function fullWindowLatency(worker, work, target, limits, rounds = 3, samples = 1000) {
  const all = Object.fromEntries(limits.map((l) => [l, []]));
  for (let round = 0; round < rounds; round++) {
    for (const limit of limits) {
      const { latencies } = await runWorker(worker, ['latency', stateOf(work, target), String(limit), String(samples), prefixOf()]);
      all[limit].push(...latencies);
    }
  }
  return Object.fromEntries(
    limits.map((l) => {
      const sorted = all[l].sort((a, b) => a - b);
      return [l, { p50: +f(quantile(sorted, 0.5)), p95: +f(quantile(sorted, 0.95)) }];
    }),
  );
}

async function throughput(worker, work, target, processes, durationMs, node) {
  const state = stateOf(work, target);
  const prefix = prefixOf();
  const startAt = Date.now() + 1500;
  const results = await Promise.all(
    Array.from({ length: processes }, () => runWorker(worker, ['throughput', state, String(durationMs), String(startAt), prefix], node)),
  );
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
  return { admissionsPerSecond: Math.round(admitted / (durationMs / 1000)), p50: +f(quantile(latencies, 0.5)), p95: +f(quantile(latencies, 0.95)) };
}

async function storeFigures(worker, work, target) {
  const full = await fullWindowLatency(worker, work, target, [40, 10_000]);
  const one = await throughput(worker, work, target, 1, 3000, defaultNode);
  const eight = await throughput(worker, work, target, 8, 3000, defaultNode);
  return {
    fullWindowLatencyMs: { limit40: full[40], limit10000: full[10_000], p50Ratio: +f(full[10_000].p50 / full[40].p50) },
    admissionsPerSecond1Process: one.admissionsPerSecond,
    admissionsPerSecond8Processes: eight.admissionsPerSecond,
    uncontendedLatencyMs: { p50: one.p50, p95: one.p95 },
    contended8LatencyMs: { p50: eight.p50, p95: eight.p95 },
  };
}

/**
 * The worker bundled once into a temp dir of its own (close() removes it):
 * - measure(): every figure on both stores (CLAW_BENCH_ADMISSION_ONLY=sqlite|redis: one store only,
 *   while working on one), on a redis-server of our own;
 * - throughput(processes, { target, durationMs, node }): admissions/s and latency alone (a fresh
 *   SQLite state dir unless target is a redis:// URL), e.g. on another Node.
 */
export async function openAdmissionBench(root) {
  const work = mkdtempSync(join(tmpdir(), 'claw-bench-admission-'));
  let worker;
  try {
    worker = await bundleWorker(root, work);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return {
    async measure() {
      const only = process.env.CLAW_BENCH_ADMISSION_ONLY;
      const node = spawnSync(defaultNode, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
      const sqlite = only === 'redis' ? 'not measured' : await storeFigures(worker, work);
      const redis = only === 'sqlite' ? undefined : await startRedis();
      try {
        const redisFigures = redis ? await storeFigures(worker, work, redis.url) : only === 'sqlite' ? 'not measured' : 'redis-server not installed';
        return { node, sqlite, redis: redisFigures };
      } finally {
        redis?.stop();
      }
    },
    throughput: (processes, { target, durationMs = 3000, node = defaultNode } = {}) => throughput(worker, work, target, processes, durationMs, node),
    close: () => rmSync(work, { recursive: true, force: true }),
  };
}

/** The report's figures as lines (bench/run.mjs prints them in its own summary). */
export function admissionLines(report) {
  const store = (name, s) => [
    `  ${name} full-window decision    limit 40 p50 ${f(s.fullWindowLatencyMs.limit40.p50)} ms  p95 ${f(s.fullWindowLatencyMs.limit40.p95)} ms; ` +
      `limit 10,000 p50 ${f(s.fullWindowLatencyMs.limit10000.p50)} ms  p95 ${f(s.fullWindowLatencyMs.limit10000.p95)} ms = ${f(s.fullWindowLatencyMs.p50Ratio)}x   (target <= 2x)`,
    `  ${name} admissions/s            1 process: ${s.admissionsPerSecond1Process}   8 processes: ${s.admissionsPerSecond8Processes}`,
    `  ${name} admission latency       uncontended p50 ${f(s.uncontendedLatencyMs.p50)} ms  p95 ${f(s.uncontendedLatencyMs.p95)} ms; ` +
      `8 processes (contended) p50 ${f(s.contended8LatencyMs.p50)} ms  p95 ${f(s.contended8LatencyMs.p95)} ms`,
  ];
  return [
    ...(typeof report.sqlite === 'object' ? store('sqlite', report.sqlite) : [`  sqlite admissions: ${report.sqlite}`]),
    ...(typeof report.redis === 'object' ? store('redis ', report.redis) : [`  redis admissions: ${report.redis}`]),
    `  admission workers on node ${report.node}; targets: sqlite 8 processes >= 10000/s, redis 8 processes (contended) p50 <= 2 ms`,
  ];
}

export async function benchAdmission(root) {
  const bench = await openAdmissionBench(root);
  try {
    const report = await bench.measure();
    console.log('claw admission bench');
    for (const line of admissionLines(report)) console.log(line);
    console.log(JSON.stringify({ admission: report }));
    return report;
  } finally {
    bench.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAdmission(new URL('..', import.meta.url).pathname);
