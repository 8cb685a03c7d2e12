// `claw doctor` against a whole host in temp dirs: the built bin, the fake CLIs, a fake `crontab`
// that keeps its table in a file, a fake /proc (CLAW_TEST_PROC_ROOT) and real redis-servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runClaw, type Result } from '../helpers/claw';
import { fleet, type Fleet } from '../helpers/fleet';
import { freePort, redisAvailable, redisServer, type RedisServer } from '../helpers/redis';
import { hostTimeZone } from '../../src/cron/crontab';

const apiKey = 'nvapi-doctor-test-secret-0123456789';
const fakes = join(repoRoot, 'test', 'fakes');
const systemPath = '/usr/local/bin:/usr/bin:/bin';

interface Host {
  f: Fleet;
  env: NodeJS.ProcessEnv;
  table: string;
  proc: string;
  doctor(extra?: NodeJS.ProcessEnv): Promise<Result & { doc: any }>;
}

interface HostOptions {
  agents?: string[];
  /** The PATH `claw cron install` runs with (its block's PATH line is made from it); default the fleet's. */
  installPath?: (bin: string) => string;
  /** What `claw cron install` is told about cron (default honours-tz, for the fake crond). */
  install?: false | string[];
  daemon?: string | null;
  env?: NodeJS.ProcessEnv;
}

/**
 * A fleet that passes every check: todo docs, the key, a crontab with the user's own lines (a PATH
 * the block's PATH line overrides) and the claw block written for cronie, and a running crond.
 */
async function host(options: HostOptions = {}): Promise<Host> {
  const f = fleet({ agents: options.agents ?? ['coo', 'lawyer'], env: { NVIDIA_API_KEY: apiKey, ...options.env } });
  for (const agent of options.agents ?? ['coo', 'lawyer']) f.writeTodo(agent, '- [ ] write the report\n');
  const bin = join(f.root, 'bin');
  mkdirSync(bin);
  const table = join(f.root, 'crontab.txt');
  writeFileSync(table, 'MAILTO=ops@example.com\nPATH=/usr/bin:/bin\n0 3 * * * /usr/local/bin/backup\n');
  writeFileSync(join(bin, 'crontab'), `#!/bin/sh\nif [ "$1" = "-l" ]; then cat "${table}"; else cat > "${table}"; fi\n`, { mode: 0o755 });
  const proc = join(f.root, 'proc');
  mkdirSync(join(proc, '1'), { recursive: true });
  writeFileSync(join(proc, '1', 'comm'), 'systemd\n');
  if (options.daemon !== null) {
    mkdirSync(join(proc, '417'));
    writeFileSync(join(proc, '417', 'comm'), `${options.daemon ?? 'crond'}\n`);
  }
  const env: NodeJS.ProcessEnv = { ...f.env, PATH: `${bin}:${f.env.PATH}`, CLAW_TEST_PROC_ROOT: proc };
  if (options.install !== false) {
    const installEnv = options.installPath ? { ...env, PATH: options.installPath(bin) } : env;
    expect((await runClaw(['cron', 'install', ...(options.install ?? ['--cron', 'honours-tz'])], installEnv)).code).toBe(0);
  }
  return {
    f,
    env,
    table,
    proc,
    async doctor(extra = {}) {
      const result = await runClaw(['doctor', '--json'], { ...env, ...extra });
      return { ...result, doc: JSON.parse(result.stdout) };
    },
  };
}

const byName = (doc: any, name: string) => {
  const check = doc.checks.find((c: any) => c.name === name);
  if (!check) throw new Error(`no check "${name}" in ${doc.checks.map((c: any) => c.name).join(', ')}`);
  return check;
};
const notOk = (doc: any) => doc.checks.filter((c: any) => c.status !== 'ok');
/** Node 20 (end of life) is the machine's own Node: its warning is the one the host cannot avoid. */
const unavoidable = (c: any) => c.name === 'node' && c.status === 'warn' && process.version.startsWith('v20.');

const servers: RedisServer[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const c of children) c.kill('SIGTERM');
});

describe('claw doctor', () => {
  it('a healthy fleet passes: every check ok, in order, exit 0, the API key never printed', async () => {
    const h = await host();
    const { code, doc, stdout, stderr } = await h.doctor();
    expect(notOk(doc).filter((c: any) => !unavoidable(c))).toEqual([]);
    expect(code).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((c: any) => c.name)).toEqual([
      'node',
      'sqlite',
      'state dir',
      'state file modes',
      'store',
      'config',
      'roster',
      'agent coo',
      'agent lawyer',
      'multica',
      'multica (cron PATH)',
      'openclaw',
      'openclaw (cron PATH)',
      'gateway nvidia',
      'workboard read',
      'crontab',
      'cron daemon',
    ]);
    for (const c of doc.checks) {
      expect(Object.keys(c)).toEqual(['name', 'status', 'detail', 'fix']);
      expect(c.fix === null).toBe(c.status === 'ok');
    }
    expect(byName(doc, 'sqlite').detail).toMatch(/^(better-sqlite3|node:sqlite), SQLite 3\.\d+\.\d+$/);
    // `openclaw --version` ran under both PATHs, through the first node on each.
    expect(byName(doc, 'openclaw').detail).toBe(`${fakes}/openclaw (OpenClaw 2026.9.6); needed for workboard, dispatch of coo, lawyer`);
    expect(byName(doc, 'openclaw (cron PATH)').detail).toContain('(OpenClaw 2026.9.6)');
    expect(byName(doc, 'crontab').detail).toBe('the claw block is installed and matches the roster (3 jobs)');
    expect(byName(doc, 'cron daemon').detail).toBe("crond (cronie) is running; it honours the block's CRON_TZ lines");
    expect(byName(doc, 'gateway nvidia').detail).toMatch(/^NVIDIA_API_KEY is set \(used by 2 agents;/);
    expect(stdout + stderr).not.toContain(apiKey);
    // Plain lines off a TTY: one per check and a summary.
    const text = await runClaw(['doctor'], h.env);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(doc.checks.length + 2);
    expect(lines[4]).toMatch(/^ok {3}store: sqlite .*claw\.db opens$/);
    expect(lines.at(-1)).toMatch(/^\d+ ok, [01] warn, 0 fail$/);
    expect(text.stdout).not.toContain(apiKey);
  });

  it('missing executables fail (69) with the fix, on PATH and on the crontab PATH', async () => {
    // Installed from a shell without them: the block's PATH line cannot hold their dirs.
    const h = await host({ installPath: (bin) => `${bin}:${systemPath}` });
    const { code, doc } = await h.doctor({ PATH: `${join(h.f.root, 'bin')}:${systemPath}` });
    expect(code).toBe(69);
    expect(doc.ok).toBe(false);
    const openclaw = byName(doc, 'openclaw');
    expect(openclaw).toMatchObject({ status: 'fail', detail: 'openclaw not found on PATH; needed for workboard, dispatch of coo, lawyer' });
    expect(openclaw.fix).toContain('npm install -g openclaw');
    expect(byName(doc, 'multica').status).toBe('fail');
    // The block's own PATH line is the one cron gives its jobs (not the user's PATH line above it).
    const blockPath = /^PATH=(.*)$/m.exec(readFileSync(h.table, 'utf8').split('# >>> claw')[1]!)![1]!;
    expect(byName(doc, 'openclaw (cron PATH)')).toMatchObject({
      status: 'fail',
      detail: `openclaw not found on the claw block's PATH ${blockPath}; needed for workboard, dispatch of coo, lawyer`,
    });
    expect(byName(doc, 'multica (cron PATH)').status).toBe('fail');
    // A block with no PATH line (as an older claw wrote) and none above it: cron's default, and the report says so.
    writeFileSync(h.table, readFileSync(h.table, 'utf8').replace(/^PATH=.*\n/gm, ''));
    const bare = await h.doctor({ PATH: `${join(h.f.root, 'bin')}:${systemPath}` });
    expect(byName(bare.doc, 'openclaw (cron PATH)')).toMatchObject({
      status: 'fail',
      detail: "openclaw not found on cron's default PATH /usr/bin:/bin (the crontab sets no PATH); needed for workboard, dispatch of coo, lawyer",
    });
  });

  it('an executable found on PATH but not on the crontab PATH fails with the fix; reinstalling from that shell fixes it', async () => {
    const h = await host({ installPath: (bin) => `${bin}:${systemPath}` });
    const { code, doc } = await h.doctor();
    expect(code).toBe(69);
    expect(byName(doc, 'openclaw').status).toBe('ok');
    const cron = byName(doc, 'openclaw (cron PATH)');
    expect(cron.status).toBe('fail');
    expect(cron.detail).toContain("the claw block's PATH");
    expect(cron.fix).toBe(`run \`claw cron install\` from a shell whose PATH has ${fakes} (the block's PATH line is made from that PATH), then check again`);
    expect(
      notOk(doc)
        .filter((c: any) => !unavoidable(c))
        .map((c: any) => c.name),
    ).toEqual(['multica (cron PATH)', 'openclaw (cron PATH)']);
    expect((await runClaw(['cron', 'install', '--cron', 'honours-tz'], h.env)).code).toBe(0);
    const fixed = await h.doctor();
    expect(notOk(fixed.doc).filter((c: any) => !unavoidable(c))).toEqual([]);
    expect(fixed.code).toBe(0);
  });

  it('an openclaw that its node is too old for fails with the Node fix', async () => {
    const old = mkdtempSync(join(tmpdir(), 'claw-old-node-'));
    // What the real openclaw prints, verbatim, when the first node on PATH lacks node:sqlite.
    writeFileSync(
      join(old, 'openclaw'),
      "#!/bin/sh\ncat >&2 <<'EOF'\nopenclaw: Node 20.20.2: node:sqlite is unavailable; use 24.16+/26.1+ or a build with the fix.\nIf you use nvm, run:\n  nvm install 26\n  nvm use 26\n  nvm alias default 26\nEOF\nexit 1\n",
      { mode: 0o755 },
    );
    // Installed from a shell where that openclaw came first: the block's PATH has its dir first.
    const h = await host({ installPath: (bin) => `${bin}:${old}:${fakes}:${systemPath}` });
    const { code, doc } = await h.doctor();
    expect(code).toBe(69);
    const cron = byName(doc, 'openclaw (cron PATH)');
    expect(cron.status).toBe('fail');
    expect(cron.detail).toBe(
      `\`${old}/openclaw --version\` fails: openclaw: Node 20.20.2: node:sqlite is unavailable; use 24.16+/26.1+ or a build with the fix.`,
    );
    expect(cron.fix).toContain('put Node >= 24.16 first there');
    expect(byName(doc, 'openclaw').status).toBe('ok');
  });

  it('a missing API key fails (78) with the fix; a set key is reported set and its value never printed', async () => {
    const secret = 'sk-doctor-own-gateway-secret-42';
    const h = await host({ env: { NVIDIA_API_KEY: '', MYGW_KEY: secret } });
    h.f.writeConfig({ gateways: { mygw: { baseUrl: 'http://127.0.0.1:9/v1', apiKeyEnv: 'MYGW_KEY' } } });
    const { code, doc, stdout, stderr } = await h.doctor();
    expect(code).toBe(78);
    const nvidia = byName(doc, 'gateway nvidia');
    expect(nvidia.status).toBe('fail');
    expect(nvidia.detail).toMatch(/^NVIDIA_API_KEY is not set \(used by 2 agents;/);
    expect(nvidia.fix).toContain('export NVIDIA_API_KEY=<key>');
    expect(byName(doc, 'gateway mygw')).toMatchObject({ status: 'ok', detail: 'MYGW_KEY is set (configured; http://127.0.0.1:9/v1)' });
    const text = await runClaw(['doctor'], h.env);
    for (const out of [stdout, stderr, text.stdout, text.stderr]) expect(out).not.toContain(secret);
  });

  it('a bad roster fails (78) naming the file and the field', async () => {
    const h = await host();
    const file = join(h.f.heartbeatsDir, 'lawyer.json');
    writeFileSync(file, JSON.stringify({ id: 'lawyer', schedule: '*/15 * * * *', priority: 'asap' }));
    const { code, doc } = await h.doctor();
    expect(code).toBe(78);
    const roster = byName(doc, 'roster');
    expect(roster.status).toBe('fail');
    expect(roster.detail).toBe(`${file}: priority: unknown priority "asap" (use urgent, high, normal or low)`);
    expect(roster.fix).toBe(`fix ${file}`);
    // Without a roster the block cannot be compared: said, not guessed.
    expect(byName(doc, 'crontab').status).toBe('warn');
  });

  it('a stale crontab block (the roster changed after install) fails (78) naming `claw cron install`; installing fixes it', async () => {
    const h = await host();
    writeFileSync(join(h.f.heartbeatsDir, 'lawyer.json'), JSON.stringify({ id: 'lawyer', schedule: '5 * * * *' }));
    mkdirSync(join(h.f.heartbeatsDir, 'workspaces', 'designer'));
    h.f.writeTodo('designer', '- [ ] logo\n');
    writeFileSync(join(h.f.heartbeatsDir, 'designer.json'), JSON.stringify({ id: 'designer', schedule: '*/15 * * * *' }));
    const stale = await h.doctor();
    expect(stale.code).toBe(78);
    const crontab = byName(stale.doc, 'crontab');
    expect(crontab.status).toBe('fail');
    expect(crontab.detail).toBe(
      'the installed claw block does not match `claw cron print`: missing heartbeat designer (*/15 * * * * Asia/Shanghai); ' +
        'heartbeat lawyer runs at */15 * * * * Asia/Shanghai, the roster says 5 * * * * Asia/Shanghai',
    );
    expect(crontab.fix).toBe('run `claw cron install`');
    // What doctor says to run, as it is (it detects this host's cron itself).
    expect((await runClaw(['cron', 'install'], h.env)).code).toBe(0);
    const fixed = await h.doctor();
    expect(byName(fixed.doc, 'crontab').status).toBe('ok');
    expect(fixed.code).toBe(0);
  });

  it('a block written for Debian cron holds schedules translated to the host zone: they match the roster, and a changed one is stale', async () => {
    const h = await host({ daemon: 'cron', install: false });
    writeFileSync(join(h.f.heartbeatsDir, 'lawyer.json'), JSON.stringify({ id: 'lawyer', schedule: '0 9 * * *' }));
    expect((await runClaw(['cron', 'install', '--cron', 'ignores-tz', '--host-tz', 'UTC'], h.env)).code).toBe(0);
    // 09:00 in Asia/Shanghai is 01:00 UTC: no CRON_TZ line, the translated schedule.
    const block = readFileSync(h.table, 'utf8');
    expect(block).not.toMatch(/^CRON_TZ/m);
    expect(block).toMatch(/^0 1 \* \* \* .* heartbeat lawyer /m);
    const matching = await h.doctor();
    expect(byName(matching.doc, 'crontab')).toMatchObject({ status: 'ok', detail: 'the claw block is installed and matches the roster (3 jobs)' });
    writeFileSync(join(h.f.heartbeatsDir, 'lawyer.json'), JSON.stringify({ id: 'lawyer', schedule: '0 10 * * *' }));
    const stale = await h.doctor();
    expect(stale.code).toBe(78);
    expect(byName(stale.doc, 'crontab')).toMatchObject({
      status: 'fail',
      detail: 'the installed claw block does not match `claw cron print`: heartbeat lawyer runs at 0 1 * * * UTC, the roster says 0 2 * * * UTC',
      fix: 'run `claw cron install`',
    });
  });

  it('no block installed warns; loose state file modes warn; both with their fix, exit 0', async () => {
    const h = await host({ install: false });
    expect((await runClaw(['status'], h.env)).code).toBe(0);
    chmodSync(join(h.f.stateDir, 'claw.db'), 0o666);
    const { code, doc } = await h.doctor();
    expect(code).toBe(0);
    expect(byName(doc, 'crontab')).toMatchObject({ status: 'warn', fix: 'run `claw cron install` (see `claw cron print` first)' });
    expect(byName(doc, 'state file modes')).toMatchObject({ status: 'warn', fix: `chmod 600 ${h.f.stateDir}/claw.db*` });
    expect(byName(doc, 'state file modes').detail).toContain('claw.db 666');
    // No block: nothing to look up on the crontab's PATH.
    expect(doc.checks.some((c: any) => c.name.endsWith('(cron PATH)'))).toBe(false);
  });

  it('the cron daemon: none running warns; a block for cronie under Debian cron fails (78); a block for Debian cron is ok under either; another host zone warns', async () => {
    const none = await host({ daemon: null });
    expect(byName((await none.doctor()).doc, 'cron daemon')).toMatchObject({
      status: 'warn',
      detail: 'no cron daemon is running: nothing in the crontab will run',
    });

    // CRON_TZ lines (written for cronie) under Debian cron, which ignores them.
    const vixie = await host({ daemon: 'cron', install: false });
    writeFileSync(
      join(vixie.f.heartbeatsDir, 'defaults.json'),
      JSON.stringify({ ...JSON.parse(readFileSync(join(vixie.f.heartbeatsDir, 'defaults.json'), 'utf8')), tz: 'Pacific/Chatham' }),
    );
    expect((await runClaw(['cron', 'install', '--cron', 'honours-tz'], vixie.env)).code).toBe(0);
    const wrong = await vixie.doctor();
    expect(wrong.code).toBe(78);
    const daemon = byName(wrong.doc, 'cron daemon');
    expect(daemon.status).toBe('fail');
    expect(daemon.detail).toMatch(
      /^cron \(Vixie cron, as Debian and Ubuntu ship\) is running, which ignores CRON_TZ, but the claw block was written for a cron that honours it \(cronie\): its Pacific\/Chatham lines fire by the host's zone /,
    );
    expect(daemon.fix).toContain('run `claw cron install`');
    // The block the crontab check compares with is the one for the same cron: the jobs match.
    expect(byName(wrong.doc, 'crontab').status).toBe('ok');

    // Lines written for Debian cron in this host's zone: right under Debian cron and under cronie.
    const zone = hostTimeZone({}).zone;
    for (const daemonName of ['cron', 'crond']) {
      const good = await host({ daemon: daemonName, install: ['--cron', 'ignores-tz'] });
      const { code, doc } = await good.doctor();
      expect(notOk(doc).filter((c: any) => !unavoidable(c))).toEqual([]);
      expect(code).toBe(0);
      expect(byName(doc, 'cron daemon').detail).toBe(
        daemonName === 'cron'
          ? `cron (Vixie cron, as Debian and Ubuntu ship) is running; it ignores CRON_TZ, and the block is written for that: every line fires in ${zone}, the host's zone`
          : `crond (cronie) is running; the block is written for a cron that ignores CRON_TZ (every line in ${zone}), which is right here too`,
      );
    }

    // Written for a zone the host is not in (any longer): the lines fire by the host's zone.
    const other = /Tokyo|Japan/.test(zone) ? 'UTC' : 'Asia/Tokyo';
    const moved = await host({ daemon: 'cron', install: ['--cron', 'ignores-tz', '--host-tz', other] });
    const { code, doc } = await moved.doctor();
    expect(code).toBe(0);
    expect(byName(doc, 'cron daemon')).toMatchObject({
      status: 'warn',
      detail: `the claw block's lines are written to fire in ${other}, but this host's zone is ${zone} (from ${hostTimeZone({}).from}), and cron runs them by that (cron (Vixie cron, as Debian and Ubuntu ship) is running)`,
    });
  });
});

describe.runIf(redisAvailable())('claw doctor with a Redis store', () => {
  it('an unreachable Redis fails with 69 (a warning with storeFallback local); the password is never printed', async () => {
    const port = await freePort();
    const h = await host({ env: { CLAW_STORE: `redis://:doctor-pw-77@127.0.0.1:${port}` } });
    const { code, doc, stdout, stderr } = await h.doctor();
    expect(code).toBe(69);
    const redis = byName(doc, 'redis');
    expect(redis.status).toBe('fail');
    expect(redis.detail).toMatch(new RegExp(`^cannot reach redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} within 2s: .*ECONNREFUSED`));
    expect(byName(doc, 'store').detail).toContain('redis://:***@127.0.0.1');
    expect(byName(doc, 'crontab').detail).toContain('matches the roster');
    expect(stdout + stderr).not.toContain('doctor-pw-77');
    h.f.writeConfig({ storeFallback: 'local' });
    const fallback = await h.doctor();
    expect(fallback.code).toBe(0);
    expect(byName(fallback.doc, 'redis').status).toBe('warn');
  });

  it('Redis persistence: AOF is ok; neither AOF nor RDB warns; CONFIG refused says unknown', async () => {
    const aof = await redisServer({ password: 'doctor-pw-88' });
    servers.push(aof);
    const withAof = await (await host({ env: { CLAW_STORE: aof.url } })).doctor();
    expect(byName(withAof.doc, 'redis').detail).toMatch(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ answers \(Redis \d/);
    expect(byName(withAof.doc, 'redis persistence')).toMatchObject({ status: 'ok' });
    expect(withAof.code).toBe(0);
    expect(withAof.stdout).not.toContain('doctor-pw-88');

    const bare = await startRedis(['--save', '', '--appendonly', 'no']);
    const without = await (await host({ env: { CLAW_STORE: bare } })).doctor();
    const persistence = byName(without.doc, 'redis persistence');
    expect(persistence.status).toBe('warn');
    expect(persistence.detail).toContain('neither AOF nor RDB snapshots are on: a restart forgets the rolling windows');
    expect(persistence.fix).toContain('CONFIG SET appendonly yes');
    expect(without.code).toBe(0);

    const locked = await startRedis(['--save', '', '--appendonly', 'no', '--rename-command', 'CONFIG', '""']);
    const unknown = byName((await (await host({ env: { CLAW_STORE: locked } })).doctor()).doc, 'redis persistence');
    expect(unknown.status).toBe('warn');
    expect(unknown.detail).toMatch(/^unknown: CONFIG GET is refused \(.*\) and INFO persistence shows AOF off/);
  });
});

/** A redis-server with these arguments on a free port; its URL once it answers. */
async function startRedis(args: string[]): Promise<string> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'claw-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...args], { stdio: 'ignore' });
  children.push(child);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ping = await new Promise<string>((resolve) => {
      const p = spawn('redis-cli', ['-p', String(port), 'ping']);
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('close', () => resolve(out.trim()));
    });
    if (ping === 'PONG') return `redis://127.0.0.1:${port}`;
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
