// The shipped 15-agent fleet left idle for one simulated hour: the crontab `claw cron print` writes
// (poll every 5 minutes, heartbeats every 10 or 15), run minute by minute with claw's clock moved
// forward, against the fake `multica` and `openclaw` that log every call. Counts what reaches the
// model and the sources, next to the seed's cron (every tick an agent turn: 70 model calls an hour).
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;

function claw(args, env) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(root, 'bin/claw'), ...args], { env }, (err, stdout, stderr) => {
      if (err && err.code !== 0) reject(new Error(`claw ${args.join(' ')} exited ${err.code}: ${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

function matches(field, value) {
  if (field === '*') return true;
  const step = /^\*\/(\d+)$/.exec(field);
  return step ? value % Number(step[1]) === 0 : Number(field) === value;
}

/** The shipped roster with every todo done, fake sources first on PATH, and its own state. */
export function idleFleet() {
  const work = mkdtempSync(join(tmpdir(), 'claw-idle-fleet-'));
  const heartbeats = join(work, 'heartbeats');
  cpSync(join(root, 'heartbeats'), heartbeats, { recursive: true });
  // Idle: every todo in every workspace is done.
  for (const agent of readdirSync(join(heartbeats, 'workspaces'))) {
    for (const file of ['TODO.md', 'tasks/rate-limits.md']) {
      const full = join(heartbeats, 'workspaces', agent, file);
      if (existsSync(full)) writeFileSync(full, readFileSync(full, 'utf8').replace(/- \[[ /]\]/g, '- [x]'));
    }
  }
  const data = join(work, 'fake-data');
  cpSync(join(root, 'test', 'fakes'), join(work, 'fakes'), { recursive: true });
  const log = join(work, 'fake.log');
  const env = {
    PATH: `${join(work, 'fakes')}:${process.env.PATH}`,
    HOME: work,
    CLAW_STATE_DIR: join(work, 'state'),
    CLAW_CONFIG_DIR: join(work, 'config'),
    CLAW_HEARTBEATS_DIR: heartbeats,
    FAKE_DATA: data,
    FAKE_LOG: log,
  };
  return { work, heartbeats, log, env, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

export async function simulateIdleHour() {
  const { heartbeats, log, env, cleanup } = idleFleet();
  const roster = readdirSync(heartbeats)
    .filter((f) => f.endsWith('.json') && f !== 'defaults.json')
    .map((f) => JSON.parse(readFileSync(join(heartbeats, f), 'utf8')));
  const started = Date.now();
  let clawRuns = 0;
  for (let minute = 0; minute < 60; minute++) {
    const minuteEnv = { ...env, CLAW_CLOCK_OFFSET_MS: String(minute * 60_000) };
    if (minute % 5 === 0) {
      await claw(['poll'], minuteEnv);
      clawRuns++;
    }
    const due = roster.filter((a) => matches(a.schedule.split(' ')[0], minute));
    const results = await Promise.all(due.map((a) => claw(['heartbeat', a.id, '--no-splay'], minuteEnv)));
    clawRuns += due.length;
    for (const r of results) if (r.stdout !== '') throw new Error(`an idle heartbeat printed: ${r.stdout}`);
  }
  const calls = existsSync(log)
    ? readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  const count = (f) => calls.filter(f).length;
  const result = {
    heartbeats: clawRuns - 12,
    polls: 12,
    modelCalls: count((c) => c.tool === 'openclaw' && c.argv[0] === 'agent'),
    sourceCalls: {
      multicaIssueList: count((c) => c.tool === 'multica' && c.argv.includes('issue')),
      multicaAgentList: count((c) => c.tool === 'multica' && c.argv.includes('agent')),
      workboardList: count((c) => c.tool === 'openclaw' && c.argv[0] === 'workboard'),
    },
    seconds: Math.round((Date.now() - started) / 1000),
  };
  cleanup();
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await simulateIdleHour();
  const sources = r.sourceCalls.multicaIssueList + r.sourceCalls.multicaAgentList + r.sourceCalls.workboardList;
  // The seed: 70 agent turns an hour, each a model call that then checks WorkBoard and Multica itself.
  console.log('one idle hour, 15 agents (5 every 10 min, 10 every 15 min)');
  console.log(`  seed cron:  70 agent turns = 70 model calls, >= 140 source calls (a WorkBoard and a Multica list per turn)`);
  console.log(
    `  claw:       ${r.heartbeats} heartbeats + ${r.polls} polls = ${r.modelCalls} model calls, ${sources} source calls ` +
      `(multica issue list ${r.sourceCalls.multicaIssueList}, agent list ${r.sourceCalls.multicaAgentList}, workboard list ${r.sourceCalls.workboardList})`,
  );
  console.log(JSON.stringify(r));
}
