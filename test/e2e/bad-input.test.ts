// Bad input: one clear line, the documented exit code, and no change to shared state.
import { existsSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClaw, sandbox, statusJson } from '../helpers/claw';
import Database from '../helpers/sqlite-db.cjs';

describe('bad input', () => {
  const cases: [string, string[], number, RegExp][] = [
    [
      'unknown priority',
      ['call', '--gateway', 't', '--priority', 'asap', '--', 'true'],
      64,
      /^claw: unknown priority "asap": use urgent, high, normal or low \(or 1-4\)$/,
    ],
    [
      'malformed duration',
      ['call', '--gateway', 't', '--max-wait', '10 minutes', '--', 'true'],
      64,
      /^claw: --max-wait: "10 minutes" is not a duration; use 500ms, 2s, 10m, 1h or plain seconds$/,
    ],
    [
      'a command that does not exist',
      ['call', '--gateway', 't', '--', 'no-such-command-xyz', '--flag'],
      69,
      /^claw: command not found: no-such-command-xyz \(not an executable file on PATH\)$/,
    ],
    ['a missing API key', ['call', '--model', 'nvidia/deepseek-ai/deepseek-v4-pro', '--prompt', 'hi'], 78, /^claw: NVIDIA_API_KEY is not set: export it/],
    ['an unknown option', ['call', '--gatway', 't', '--', 'true'], 64, /^claw: unknown option '--gatway'/],
    ['nothing to call', ['call', '--gateway', 't'], 64, /^claw: nothing to call: give a command after -- or --prompt/],
    ['no gateway', ['call', '--', 'true'], 64, /^claw: no gateway: pass --gateway <name> or --model <provider\/model>$/],
  ];
  for (const [name, args, code, message] of cases) {
    it(`${name}: exit ${code}, one line, no state created`, async () => {
      const box = sandbox();
      box.writeConfig({ gateways: { t: { limit: 5, window: '2s' } } });
      const result = await runClaw(args, box.env);
      expect(result.code).toBe(code);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(message);
      expect(existsSync(box.stateDir)).toBe(false);
    });
  }

  it('under --json a failure prints {"ok":false,"error":...} on stdout', async () => {
    const box = sandbox();
    const result = await runClaw(['call', '--model', 'nvidia/x', '--prompt', 'hi', '--json'], box.env);
    expect(result.code).toBe(78);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { type: 'config_error', message: expect.stringContaining('NVIDIA_API_KEY') } });
  });

  it('config set refuses a negative limit, a malformed duration and an unknown key (exit 78) and leaves the file as it was', async () => {
    const box = sandbox();
    expect((await runClaw(['config', 'set', 'gateways.t.limit', '5'], box.env)).code).toBe(0);
    const file = join(box.configDir, 'config.json');
    const before = readFileSync(file, 'utf8');
    for (const [args, reason] of [
      [['config', 'set', 'gateways.t.limit', '-5'], /"limit" must be a whole number of requests >= 1 and <= 1000000, got -5/],
      [['config', 'set', 'gateways.t.window', 'soon'], /"window" must be a positive duration/],
      [['config', 'set', 'gateways.t.limt', '5'], /unknown key "limt"/],
      [['config', 'set', 'gateways.t.reserveLow', '1.5'], /"reserveLow" must be a fraction/],
    ] as const) {
      const result = await runClaw([...args], box.env);
      expect(result.code).toBe(78);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(reason);
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const get = await runClaw(['config', 'get', 'gateways.t.limit'], box.env);
    expect(get).toMatchObject({ code: 0, stdout: '5\n' });
    expect((await runClaw(['config', 'get', 'gateways.nvidia.limit'], box.env)).stdout).toBe('40\n');
  });

  it('an invalid config file is named with the fix (exit 78)', async () => {
    const box = sandbox();
    writeFileSync(join(box.configDir, 'config.json'), '{"gateways": {"t": {"limit": "lots"}}}');
    const result = await runClaw(['status'], box.env);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(join(box.configDir, 'config.json'));
    expect(result.stderr).toContain('"limit" must be a whole number');
  });

  it('a store file that is not a database is named with the fix and never replaced', async () => {
    for (const content of ['this is not a database at all, just text'.repeat(200), null]) {
      const box = sandbox();
      const db = join(box.stateDir, 'claw.db');
      if (content === null) {
        // A real store, truncated mid-file: first everything into claw.db (its -wal holds the latest writes).
        expect((await runClaw(['call', '--gateway', 'nvidia', '--', 'true'], box.env)).code).toBe(0);
        const store = new Database(db);
        store.pragma('wal_checkpoint(TRUNCATE)');
        store.close();
        const bytes = readFileSync(db);
        expect(bytes.length).toBeGreaterThan(10_000);
        writeFileSync(db, bytes.subarray(0, 5000));
      } else {
        mkdirSync(box.stateDir, { recursive: true });
        writeFileSync(db, content);
      }
      const before = readFileSync(db);
      const result = await runClaw(['status', '--json'], box.env);
      expect(result.code).toBe(69);
      const error = JSON.parse(result.stdout).error;
      expect(error.message).toContain(db);
      expect(error.message).toContain(`mv ${db} ${db}.broken`);
      expect(readFileSync(db).equals(before)).toBe(true);
    }
  });

  it('creates the state dir 0700 and the store 0600', async () => {
    const box = sandbox();
    await statusJson(box.env);
    expect(statSync(box.stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(box.stateDir, 'claw.db')).mode & 0o777).toBe(0o600);
  });

  it('help exit-codes prints the table', async () => {
    const box = sandbox();
    const result = await runClaw(['help', 'exit-codes'], box.env);
    expect(result.code).toBe(0);
    for (const code of ['0', '64', '69', '70', '75', '78']) expect(result.stdout).toMatch(new RegExp(`^  ${code}\\s`, 'm'));
  });
});
