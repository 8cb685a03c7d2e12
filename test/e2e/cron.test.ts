// The installed crontab block run the way cron runs it: `env -i` with only what cron gives a job
// (HOME, LOGNAME, USER, SHELL=/bin/sh, PATH=/usr/bin:/bin) plus the block's own env lines, the
// command part through /bin/sh -c from HOME, with openclaw and multica installed outside /usr/bin.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runClaw, statusJson, stores } from '../helpers/claw';
import { fleet, isDispatch, isIssueList, isWorkboardList, type Fleet } from '../helpers/fleet';

interface CronJob {
  schedule: string;
  /** What cron hands to sh -c: up to the first unescaped %, with \% made %. */
  command: string;
  /** The env lines above the job, in order, values as cron reads them. */
  env: [string, string][];
}

/** Vixie cron's load_env: NAME=value, the value to the end of the line (trailing blanks dropped) or between matching quotes. */
function envLine(line: string): [string, string] | undefined {
  const m = /^\s*([^\s='"]+)\s*=\s*(.*)$/.exec(line);
  if (!m) return undefined;
  let value = m[2]!;
  if (/^['"]/.test(value)) {
    const end = value.indexOf(value[0]!, 1);
    if (end < 0 || value.slice(end + 1).trim() !== '') return undefined;
    value = value.slice(1, end);
  } else value = value.replace(/\s+$/, '');
  return [m[1]!, value];
}

/** Vixie cron's do_command: `%` ends the command (the rest is stdin), `\%` is a literal `%`. */
function cronCommandPart(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === '%') {
      out += '%';
      i++;
    } else if (text[i] === '%') break;
    else out += text[i];
  }
  return out;
}

function parseCrontab(text: string): CronJob[] {
  const env: [string, string][] = [];
  const jobs: CronJob[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const setting = envLine(line);
    if (setting) {
      env.push(setting);
      continue;
    }
    const m = /^\s*(\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`cron would reject this line: ${line}`);
    jobs.push({ schedule: m[1]!, command: cronCommandPart(m[2]!), env: [...env] });
  }
  return jobs;
}

function runAsCron(job: CronJob, home: string): { status: number | null; stderr: string } {
  const cronGives = [`HOME=${home}`, 'LOGNAME=claw', 'USER=claw', 'SHELL=/bin/sh', 'PATH=/usr/bin:/bin'];
  const r = spawnSync('/usr/bin/env', ['-i', ...cronGives, ...job.env.map(([k, v]) => `${k}=${v}`), '/bin/sh', '-c', job.command], {
    cwd: home,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

/** A fake crontab(1) that keeps the table in a file. */
function fakeCrontab(root: string): { bin: string; table: string } {
  const bin = join(root, 'crontab-bin');
  const table = join(root, 'crontab.txt');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'crontab'),
    `#!/bin/sh\nif [ "$1" = "-l" ]; then cat "${table}" 2>/dev/null || { echo "no crontab for claw" >&2; exit 1; }; else cat > "${table}"; fi\n`,
    { mode: 0o755 },
  );
  return { bin, table };
}

/**
 * openclaw and multica installed outside /usr/bin, the way npm -g under nvm leaves them. openclaw
 * starts with `#!/usr/bin/env node` and, like 2026.9 on a Node it does not accept, exits 1 with its
 * real message unless run by the user's node (the one first on their PATH, not /usr/bin/node).
 */
function installTools(f: Fleet): { nodeDir: string; toolsDir: string } {
  const nodeDir = join(f.root, 'nvm', 'bin');
  const toolsDir = join(f.root, 'npm-global', 'bin');
  mkdirSync(nodeDir, { recursive: true });
  mkdirSync(toolsDir, { recursive: true });
  writeFileSync(join(nodeDir, 'node'), `#!/bin/sh\nCLAW_TEST_USERS_NODE=1 exec '${process.execPath}' "$@"\n`, { mode: 0o755 });
  writeFileSync(
    join(toolsDir, 'openclaw'),
    [
      '#!/usr/bin/env node',
      'if (!process.env.CLAW_TEST_USERS_NODE) {',
      '  process.stderr.write(`openclaw: Node ${process.versions.node}: node:sqlite is unavailable; use 24.16+/26.1+ or a build with the fix.\\nIf you use nvm, run:\\n  nvm install 26\\n  nvm use 26\\n  nvm alias default 26\\n`);',
      '  process.exit(1);',
      '}',
      `process.env.FAKE_LOG = ${JSON.stringify(f.log)};`,
      `process.env.FAKE_DATA = ${JSON.stringify(f.data)};`,
      `require(${JSON.stringify(join(repoRoot, 'test', 'fakes', 'openclaw'))});`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  // multica is a Go binary: no interpreter to find.
  writeFileSync(
    join(toolsDir, 'multica'),
    `#!/bin/sh\nFAKE_LOG='${f.log}' FAKE_DATA='${f.data}' exec '${process.execPath}' '${join(repoRoot, 'test', 'fakes', 'multica')}' "$@"\n`,
    { mode: 0o755 },
  );
  return { nodeDir, toolsDir };
}

describe('claw cron under a real cron environment', () => {
  it('the installed block runs under env -i with only what cron gives: sources found, dispatch made', async () => {
    const f = fleet({ agents: ['coo', 'lawyer'] });
    f.writeTodo('coo', '- [ ] Write the weekly report\n');
    const { nodeDir, toolsDir } = installTools(f);
    const crontab = fakeCrontab(f.root);
    // The installing user's shell: their node and npm's global bin on PATH, and nothing of it reaches cron.
    const env = { ...f.env, PATH: `${crontab.bin}:${nodeDir}:${toolsDir}:/usr/bin:/bin` };
    delete env.FAKE_LOG;
    delete env.FAKE_DATA;
    const install = await runClaw(['cron', 'install', '--cron', 'ignores-tz', '--host-tz', 'UTC'], env);
    expect(install.code).toBe(0);
    expect(install.stdout).toBe(`installed the claw block (3 lines) in your crontab; logs in ${join(f.stateDir, 'logs')}\n`);
    const table = readFileSync(crontab.table, 'utf8');
    // The user's node first, so openclaw's `#!/usr/bin/env node` picks it over /usr/bin/node.
    expect(table).toContain(`\nPATH=${nodeDir}:${toolsDir}:`);
    const jobs = parseCrontab(table);
    expect(jobs.map((j) => j.schedule)).toEqual(['*/5 * * * *', '*/10 * * * *', '*/15 * * * *']);
    for (const job of jobs) {
      const r = runAsCron(job, f.root);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
    }
    const logs = ['poll', 'coo', 'lawyer'].map((name) => readFileSync(join(f.stateDir, 'logs', `${name}.log`), 'utf8')).join('');
    expect(logs).not.toMatch(/not installed|node:sqlite/);
    expect(f.calls(isIssueList).length).toBeGreaterThan(0);
    expect(f.calls(isWorkboardList).length).toBeGreaterThan(0);
    expect(f.calls(isDispatch).map((i) => i.argv[i.argv.indexOf('--agent') + 1])).toEqual(['coo']);
    const status = await statusJson(f.env);
    expect(status.agents.map((a: any) => [a.agent, a.lastRun?.outcome])).toEqual([
      ['coo', 'dispatched'],
      ['lawyer', 'idle'],
    ]);
  });

  it('a log dir with shell metacharacters, blanks and % is quoted: it works and runs nothing else', async () => {
    const f = fleet({ agents: ['coo'] });
    const { nodeDir, toolsDir } = installTools(f);
    const crontab = fakeCrontab(f.root);
    const env = { ...f.env, PATH: `${crontab.bin}:${nodeDir}:${toolsDir}:/usr/bin:/bin` };
    for (const dir of ['x;touch y;#', "it's 50% done $(touch z)"]) {
      const logDir = join(f.root, dir);
      const r = await runClaw(['cron', 'install', '--cron', 'ignores-tz', '--host-tz', 'UTC', '--log-dir', logDir], env);
      expect(r.code).toBe(0);
      for (const job of parseCrontab(readFileSync(crontab.table, 'utf8'))) expect(runAsCron(job, f.root).status).toBe(0);
      expect(existsSync(join(logDir, 'poll.log'))).toBe(true);
      expect(existsSync(join(logDir, 'coo.log'))).toBe(true);
    }
    expect(existsSync(join(f.root, 'y'))).toBe(false);
    expect(existsSync(join(f.root, 'z'))).toBe(false);
    expect((await statusJson(f.env)).agents[0].lastRun.outcome).toBe('idle');
    const newline = await runClaw(['cron', 'print', '--log-dir', `${f.root}/a\nb`], env);
    expect(newline.code).toBe(64);
    expect(newline.stderr).toMatch(/^claw: --log-dir cannot contain a newline/m);
  });

  it('names a program it did not find, in the block and on stderr', async () => {
    const f = fleet({ agents: ['coo'] });
    const r = await runClaw(['cron', 'print', '--cron', 'ignores-tz', '--host-tz', 'UTC'], { ...f.env, PATH: '/usr/bin:/bin' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# openclaw was not found on PATH when this block was written: under cron it will be "not installed"/m);
    expect(r.stderr).toMatch(/^claw: multica was not found on PATH/m);
  });

  it('a cron that ignores CRON_TZ: zone-independent lines stay, fixed-offset ones are translated exactly, DST ones refused with a reason', async () => {
    const f = fleet({
      agents: ['coo', 'lawyer', 'secretary'],
      agentOverrides: { lawyer: { schedule: '0 9 * * 1-5' }, secretary: { schedule: '0 6 * * 1-5' } },
    });
    const print = (extra: string[], env = f.env) => runClaw(['cron', 'print', '--cron', 'ignores-tz', '--host-tz', 'UTC', ...extra], env);
    const r = await print([]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^CRON_TZ=/m);
    expect(r.stdout).toMatch(/^\*\/10 \* \* \* \* .* heartbeat coo >> /m);
    // 09:00 in Shanghai (UTC+8, no DST) is 01:00 UTC the same weekday; 06:00 is 22:00 the day before.
    expect(r.stdout).toMatch(/^0 1 \* \* 1-5 .* heartbeat lawyer >> /m);
    expect(r.stdout).toMatch(/^0 22 \* \* 0-4 .* heartbeat secretary >> /m);
    expect(r.stdout).toContain('# lawyer: "0 9 * * 1-5" in Asia/Shanghai is "0 1 * * 1-5" in UTC (Asia/Shanghai is a fixed +08:00 from UTC');

    const berlin = fleet({ agents: ['coo', 'lawyer'], defaults: { tz: 'Europe/Berlin' }, agentOverrides: { lawyer: { schedule: '0 9 * * 1-5' } } });
    const refused = await print([], berlin.env);
    expect(refused.code).toBe(78);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(
      /^claw: lawyer: "0 9 \* \* 1-5" in Europe\/Berlin would fire at the wrong time: this cron ignores CRON_TZ .*daylight saving time.*Instead: use cronie.*OnCalendar=Mon,Tue,Wed,Thu,Fri \*-\*-\* 09:00:00 Europe\/Berlin/,
    );
    // Every 10 minutes is the same in Berlin and UTC at every time of year.
    const fine = await print([], fleet({ agents: ['coo'], defaults: { tz: 'Europe/Berlin' } }).env);
    expect(fine.code).toBe(0);
    expect(fine.stdout).toMatch(/^\*\/10 \* \* \* \* .* heartbeat coo >> /m);
    // A cron that honours CRON_TZ keeps the zone as it is.
    const cronie = await runClaw(['cron', 'print', '--cron', 'honours-tz', '--host-tz', 'UTC'], berlin.env);
    expect(cronie.code).toBe(0);
    expect(cronie.stdout).toMatch(/^CRON_TZ=Europe\/Berlin\n(.*\n)*0 9 \* \* 1-5 .* heartbeat lawyer >> .*\nCRON_TZ=UTC\n/m);
  });

  it('cron print and install --dry-run redact the Redis password; the installed crontab has the real one', async () => {
    const f = fleet({ agents: ['coo'], env: { CLAW_STORE: 'redis://:s3cret-pw@127.0.0.1:6390/0' } });
    const crontab = fakeCrontab(f.root);
    const env = { ...f.env, PATH: `${crontab.bin}:${f.env.PATH}` };
    const args = ['--cron', 'ignores-tz', '--host-tz', 'UTC'];
    for (const r of [await runClaw(['cron', 'print', ...args], env), await runClaw(['cron', 'install', '--dry-run', ...args], env)]) {
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
      expect(r.stdout).toContain('\nCLAW_STORE=redis://:***@127.0.0.1:6390/0\n');
      expect(r.stdout).toContain("# CLAW_STORE's password is redacted in this output; `claw cron install` writes the real value\n");
    }
    expect(existsSync(crontab.table)).toBe(false);
    const install = await runClaw(['cron', 'install', ...args], env);
    expect(install.code).toBe(0);
    expect(install.stdout + install.stderr).not.toContain('s3cret-pw');
    const table = readFileSync(crontab.table, 'utf8');
    expect(table).toContain('\nCLAW_STORE=redis://:s3cret-pw@127.0.0.1:6390/0\n');
    expect(table).not.toContain('redacted');
  });
});

describe.each(stores)('health of a roster nobody has run yet (%s store)', (store) => {
  it('is new, not late, and status --check exits 0; once a tick has come due with no run, it is late', async () => {
    const f = fleet({ store, agents: ['coo', 'lawyer'] });
    const check = await runClaw(['status', '--check'], f.env);
    expect(check.code).toBe(0);
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(/^coo\s.*\snever\s.*\snew\s/m);
    expect((await statusJson(f.env)).agents.map((a: any) => a.health)).toEqual(['new', 'new']);
    expect((await runClaw(['status', '--prometheus'], f.env)).stdout).toMatch(/^agent_heartbeat_status\{agent_name="coo"\} 1$/m);
    // An hour later, still never run: cron is not running these lines.
    const later = { ...f.env, CLAW_CLOCK_OFFSET_MS: String(60 * 60_000) };
    const late = await runClaw(['status', '--check'], later);
    expect(late.code).toBe(75);
    expect(late.stderr).toBe('claw: 2 agent(s) late or failing: coo (late), lawyer (late)\n');
  });
});
