// npm run bench: store admissions per second (1 and 8 processes), uncontended and contended
// admission latency and a full window's decision latency (all measured by bench/admission.mjs),
// and the cold start of `claw status --json` against `node -e 0`, on this Node and on Node 24
// (CLAW_BENCH_NODE24, else .tmp/node24 as .ci/run installs it, else installed there from the npm
// registry's node@24 now). Everything is measured in this one run on this machine; figures are
// ratios and counts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { admissionLines, openAdmissionBench } from './admission.mjs';
import { idleFleet, simulateIdleHour } from './idle-hour.mjs';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'claw-bench-'));
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

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

const admission = await openAdmissionBench(root);
const admitted = await admission.measure();
// Admissions/s and latency alone (the Node 24 figures below), through admission.mjs's workers.
const durationMs = 3000;
async function runWorkers(count, ms, redisUrl, node) {
  const r = await admission.throughput(count, { target: redisUrl, durationMs: ms, node });
  return { admittedPerSecond: r.admissionsPerSecond, p50: r.p50, p95: r.p95 };
}

// A minimal environment for both sides of the ratio: a machine-wide setting such as
// NODE_EXTRA_CA_CERTS (which costs every node start ~85 ms here) would hide claw's own share.
const env = { PATH: process.env.PATH, HOME: work, CLAW_STATE_DIR: join(work, 'status-state'), CLAW_CONFIG_DIR: join(work, 'status-config') };
const claw = join(root, 'bin/claw');
// Without a roster (limits and cache only) and with the shipped 15-agent roster.
const bare = { ...env };
const withRoster = { ...env, CLAW_HEARTBEATS_DIR: join(root, 'heartbeats') };
execFileSync(process.execPath, [claw, 'status', '--json'], { env: bare, cwd: work, stdio: 'ignore' });
// An idle heartbeat with a warm cache (after a poll): what cron runs 70 times an hour.
const fleet = idleFleet();
execFileSync(process.execPath, [claw, 'poll'], { env: fleet.env, stdio: 'ignore' });
execFileSync(process.execPath, [claw, 'heartbeat', 'coo', '--no-splay'], { env: fleet.env, stdio: 'ignore' });
// Interleave the runs so drifting machine load hits all of them alike.
const nodeTimes = [];
const statusTimes = [];
const rosterTimes = [];
const heartbeatTimes = [];
for (let round = 0; round < 9; round++) {
  nodeTimes.push(median(['-e', '0'], 3, bare));
  statusTimes.push(median([claw, 'status', '--json'], 3, bare));
  rosterTimes.push(median([claw, 'status', '--json'], 3, withRoster));
  heartbeatTimes.push(median([claw, 'heartbeat', 'coo', '--no-splay'], 3, fleet.env));
}
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
  for (let round = 0; round < 9; round++) {
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
  admissionWorkersNode: admitted.node,
  sqlite: admitted.sqlite,
  redis: admitted.redis,
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
for (const line of admissionLines(admitted)) {
  console.log(line);
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
admission.close();
rmSync(work, { recursive: true, force: true });
