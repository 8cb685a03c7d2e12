// Secrets never appear in what claw prints, stores or sends: API keys that children print, task
// data that carries them, and Redis passwords in every form of store URL.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClaw, sandbox } from '../helpers/claw';
import { fleet, workboardCard } from '../helpers/fleet';

const nvidiaKey = 'nvapi-TESTKEY-0123456789abcdef';
const mineKey = 'mine-secret-98765432';
const keys = [nvidiaKey, mineKey];

function script(dir: string, name: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function expectNoKey(where: string, text: string): void {
  for (const key of keys) expect(text.includes(key), `${where} holds ${key}`).toBe(false);
}

describe('secrets from children and task data', () => {
  it('a dispatch, a notify and sources that print API keys leave them in no output, store, cache or message', async () => {
    const f = fleet({ agents: ['coo'], env: { NVIDIA_API_KEY: nvidiaKey, MINE_KEY: mineKey } });
    f.writeConfig({ gateways: { mine: { match: ['mine'], apiKeyEnv: 'MINE_KEY' } } });
    const bin = join(f.root, 'bin');
    const sent = join(f.root, 'sent.log');
    // The dispatch prints both keys on stdout and stderr and fails; the notify logs the message it got.
    const dispatch = script(
      bin,
      'dispatch',
      `printf '%s\\n' "$@" >> "${sent}"\necho "using $NVIDIA_API_KEY and $MINE_KEY"\necho "401: bad key $MINE_KEY for $NVIDIA_API_KEY" >&2\nexit 3`,
    );
    const notify = script(bin, 'notify', `printf '%s\\n' "$@" >> "${sent}"`);
    // multica fails with the key in its error; the WorkBoard card and the todo doc carry the keys in titles.
    script(bin, 'multica', 'echo "Error: 401 Unauthorized (token $NVIDIA_API_KEY)" >&2\nexit 1');
    f.env.PATH = `${bin}:${f.env.PATH}`;
    writeFileSync(
      join(f.heartbeatsDir, 'coo.json'),
      JSON.stringify({ id: 'coo', schedule: '*/10 * * * *', dispatch: [dispatch, '{message}'], notify: [notify, '{message}'] }),
    );
    f.setCards([workboardCard('card-1', { title: `Rotate ${mineKey} soon` })]);
    f.writeTodo('coo', `- [ ] Check that ${nvidiaKey} works\n`);

    const outputs: [string, string][] = [];
    const run = async (args: string[]) => {
      const result = await runClaw(args, f.env);
      outputs.push([`${args.join(' ')} (stdout)`, result.stdout], [`${args.join(' ')} (stderr)`, result.stderr]);
      return result;
    };
    const poll = await run(['poll']);
    expect(poll.stderr).toContain('***');
    const pollJson = await run(['poll', '--json']);
    expect(JSON.parse(pollJson.stdout).refreshed.find((r: any) => r.key.startsWith('multica:issues')).detail).toContain('***');

    const text = await run(['heartbeat', 'coo', '--no-splay']);
    expect(text.code).toBe(75);
    expect(text.stdout).toContain('failed: dispatch failed');
    const json = await run(['heartbeat', 'coo', '--no-splay', '--json']);
    const report = JSON.parse(json.stdout);
    expect(report.outcome).toBe('failed');
    expect(report.error).toContain('***');
    expect(report.claimable.map((t: any) => t.title).sort()).toEqual(['Check that *** works', 'Rotate *** soon']);
    const dry = await run(['heartbeat', 'coo', '--dry-run']);
    expect(dry.stdout).toContain('[dry run] would run:');
    const status = await run(['status', '--json']);
    expect(JSON.parse(status.stdout).agents[0].lastRun.outcome).toBe('failed');
    await run(['status']);
    await run(['cache', 'stats', '--json']);

    for (const [where, text] of outputs) expectNoKey(where, text);
    // What was sent: the dispatch messages (to the agent) and the escalation (to people).
    const messages = readFileSync(sent, 'utf8');
    expect(messages).toContain('heartbeat dispatch failed');
    expect(messages).toContain('***');
    expectNoKey('the dispatch and notify messages', messages);
    // What was stored: the SQLite file with its WAL (runs.detail, the cache, counters, memory).
    let stored = 0;
    for (const file of ['claw.db', 'claw.db-wal']) {
      const path = join(f.stateDir, file);
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      stored += bytes.length;
      expectNoKey(file, bytes.toString('latin1'));
    }
    expect(stored).toBeGreaterThan(0);
  });

  it('claw call -- <command>: keys the command prints are redacted, split across writes too; other output is unchanged', async () => {
    const box = sandbox({ NVIDIA_API_KEY: nvidiaKey, MINE_KEY: mineKey });
    box.writeConfig({ gateways: { mine: { apiKeyEnv: 'MINE_KEY' } } });
    const half = nvidiaKey.length >> 1;
    const program = [
      'const w = (s) => new Promise((r) => process.stdout.write(s, () => setTimeout(r, 20)));',
      `(async () => { await w('key: ${nvidiaKey.slice(0, half)}'); await w('${nvidiaKey.slice(half)} and '); await w(process.env.MINE_KEY + '\\n'); process.stderr.write('err ' + process.env.NVIDIA_API_KEY + '\\n'); await w('plain tail\\n'); })();`,
    ].join('\n');
    const result = await runClaw(['call', '--gateway', 'mine', '--', process.execPath, '-e', program], box.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('key: *** and ***\nplain tail\n');
    expect(result.stderr).toBe('err ***\n');
  });
});

describe('Redis passwords', () => {
  const password = 'hunter2-Pa55word';
  it('config set store validates the URL (78, the accepted forms) and never echoes the password', async () => {
    const box = sandbox();
    const file = join(box.configDir, 'config.json');
    const before = readFileSync(file, 'utf8');
    for (const [url, reason] of [
      ['mysql://x', /is not a store: use "sqlite" or redis:\/\/\[user:password@\]host\[:port\]\[\/db\]/],
      [`redis:/:${password}@host`, /must start with redis:\/\/ or rediss:\/\//],
      [`redis://:${password}@ho@st:6379/0`, /write @ in a password as %40/],
      [`redis://:${password.slice(0, 4)}/${password.slice(4)}@host:6379/0`, /write \/ in a password as %2F/],
      [`redis://:${password}@host:70000`, /port must be a number from 1 to 65535/],
      [`redis://:${password}@host:6379/zero`, /database number/],
    ] as const) {
      const result = await runClaw(['config', 'set', 'store', url], box.env);
      expect(result.code, url).toBe(78);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(reason);
      expect(result.stderr).not.toContain(password.slice(4));
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('config list, config get store (text and --json), status, cron print and cron install --dry-run show *** for the password in every form', async () => {
    const f = fleet({ agents: ['coo'] });
    const forms = [
      `redis://:${password}@127.0.0.1:1/0`,
      `redis://claw:${encodeURIComponent('p@ss/' + password)}@127.0.0.1:1/0`,
      `rediss://127.0.0.1:1/0?password=${password}`,
    ];
    // A fake crontab that holds an earlier claw block with the password in it.
    const bin = join(f.root, 'bin');
    script(bin, 'crontab', `[ "$1" = "-l" ] && printf '%s\\n' "MAILTO=ops@example.com" "CLAW_STORE=redis://:${password}@old:6379/0"`);
    f.env.PATH = `${bin}:${f.env.PATH}`;
    for (const url of forms) {
      expect((await runClaw(['config', 'set', 'store', url], f.env)).code).toBe(0);
      const outputs = await Promise.all([
        runClaw(['config', 'list'], f.env),
        runClaw(['config', 'list', '--json'], f.env),
        runClaw(['config', 'get', 'store'], f.env),
        runClaw(['config', 'get', 'store', '--json'], f.env),
        runClaw(['status', '--json'], f.env),
        runClaw(['cron', 'print'], { ...f.env, CLAW_STORE: url }),
        runClaw(['cron', 'install', '--dry-run'], { ...f.env, CLAW_STORE: url }),
      ]);
      for (const r of outputs) {
        expect(r.stdout + r.stderr, url).not.toContain(password);
        expect(r.stdout + r.stderr, url).not.toContain(encodeURIComponent(password));
      }
      expect(outputs[2]!.stdout).toMatch(/^rediss?:\/\/.*\*\*\*/);
      expect(outputs[5]!.stdout).toMatch(/^CLAW_STORE=.*\*\*\*/m);
      expect(outputs[6]!.stdout).toContain('MAILTO=ops@example.com');
      // The store is unreachable (port 1): one line, exit 69, no password.
      expect(outputs[4]!.code).toBe(69);
    }
  });

  it('a malformed CLAW_STORE is a config error (78) that shows no password, never a crash', async () => {
    const box = sandbox();
    for (const url of [`redis://:${password}@ho@st/0`, `redis:/:${password}@host`, `:${password}@host:6379`, `redis://:${password}@host:6379/0/1`]) {
      const result = await runClaw(['status', '--json'], { ...box.env, CLAW_STORE: url });
      expect(result.code, url).toBe(78);
      expect(JSON.parse(result.stdout).error.message).toMatch(/^CLAW_STORE: /);
      expect(result.stdout + result.stderr).not.toContain(password);
    }
  });
});
