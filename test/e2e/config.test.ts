// `claw config`: a broken file, hostile paths and out-of-range values are refused with the reason
// (exit 78), never a crash (70) and never silently dropped; the config dir is private.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clawBin, runClaw, sandbox, type Result } from '../helpers/claw';

function oneLine(result: Result): string {
  const text = (result.stderr || result.stdout).trim();
  expect(text.split('\n')).toHaveLength(1);
  return text;
}

describe('claw config', () => {
  it('config set on a config.json that is not JSON (or not an object) is refused (78) with the file and the fix; the file is kept', async () => {
    const box = sandbox();
    const file = join(box.configDir, 'config.json');
    for (const content of ['{"gateways": {', '[1, 2]', '"text"']) {
      writeFileSync(file, content);
      const result = await runClaw(['config', 'set', 'gateways.t.limit', '3'], box.env);
      expect(result.code, content).toBe(78);
      const line = oneLine(result);
      expect(line).toContain(file);
      expect(line).toMatch(/fix it by hand or move it aside \(mv .*config\.json .*config\.json\.broken\)/);
      expect(readFileSync(file, 'utf8')).toBe(content);
    }
  });

  it('names JavaScript objects already have (toString, constructor, __proto__) are refused clearly, never dropped', async () => {
    const box = sandbox();
    const file = join(box.configDir, 'config.json');
    const before = readFileSync(file, 'utf8');
    for (const [path, code, reason] of [
      ['gateways.toString.limit', 78, /refused: gateways: "toString" is a reserved name; choose another/],
      ['gateways.hasOwnProperty.limit', 78, /"hasOwnProperty" is a reserved name/],
      ['cache.ttl.valueOf', 78, /"valueOf" is a reserved name/],
      ['gateways.constructor.limit', 64, /is not a config path/],
      ['gateways.__proto__.limit', 64, /is not a config path/],
    ] as const) {
      const result = await runClaw(['config', 'set', path, path.startsWith('cache') ? '5m' : '3'], box.env);
      expect(result.code, path).toBe(code);
      expect(oneLine(result)).toMatch(reason);
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
    // Nothing inherited is read back either.
    expect(await runClaw(['config', 'get', 'gateways.toString'], box.env)).toMatchObject({ code: 64, stderr: 'claw: gateways.toString is not set\n' });
    // A hand-written file with such a name is refused on load (78), not half-applied.
    box.writeConfig({ gateways: { toString: { limit: 3 } } });
    const status = await runClaw(['status'], box.env);
    expect(status.code).toBe(78);
    expect(oneLine(status)).toContain('"toString" is a reserved name');
  });

  it('a gateway named like any other name is set and read back', async () => {
    const box = sandbox();
    expect((await runClaw(['config', 'set', 'gateways.my-gw_2.limit', '3'], box.env)).code).toBe(0);
    expect((await runClaw(['config', 'get', 'gateways.my-gw_2.limit'], box.env)).stdout).toBe('3\n');
    expect(JSON.parse(readFileSync(join(box.configDir, 'config.json'), 'utf8')).gateways['my-gw_2']).toEqual({ limit: 3 });
  });

  it('out-of-range numbers and durations are refused (78) with the range, and nothing later exits 70', async () => {
    const box = sandbox();
    const file = join(box.configDir, 'config.json');
    expect((await runClaw(['config', 'set', 'gateways.t.limit', '5'], box.env)).code).toBe(0);
    const before = readFileSync(file, 'utf8');
    for (const [path, value, reason] of [
      ['gateways.t.limit', '1e308', /"limit" must be a whole number of requests >= 1 and <= 1000000, got 1e\+308/],
      ['gateways.t.limit', '0', /"limit" must be a whole number of requests >= 1 and <= 1000000, got 0/],
      ['gateways.t.limit', '1000001', /<= 1000000/],
      ['gateways.t.burst', '2000000', /"burst" must be a whole number >= 1 and <= 1000000/],
      ['gateways.t.window', '999999999999h', /"window" must be a positive duration from 1ms to 24h, got "999999999999h"/],
      ['gateways.t.window', '1e308', /"window" must be a positive duration from 1ms to 24h, got 1e\+308/],
      ['gateways.t.window', '0', /"window" must be a positive duration from 1ms to 24h/],
      ['gateways.t.margin', '2h', /"margin" must be a duration from 0ms to 1h, got "2h"/],
      ['cache.ttl.workboard', '9999h', /"cache.ttl.workboard" must be a duration from 0ms to 720h/],
      ['cache.staleFor', '1e308', /"cache.staleFor" must be a duration from 0ms to 720h/],
    ] as const) {
      const result = await runClaw(['config', 'set', path, value], box.env);
      expect(result.code, `${path} ${value}`).toBe(78);
      expect(oneLine(result)).toMatch(reason);
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
    // The same values written by hand: every command refuses the file (78), none crashes.
    for (const gateway of [{ limit: 1e308 }, { limit: 3, window: '999999999999h' }, { limit: 3, window: 1e308 }]) {
      box.writeConfig({ gateways: { t: gateway } });
      for (const args of [['status'], ['call', '--gateway', 't', '--', 'true']]) {
        const result = await runClaw(args, box.env);
        expect(result.code, JSON.stringify(gateway)).toBe(78);
        expect(oneLine(result)).toContain(file);
      }
    }
  });

  it('creates the config dir 0700 and the file 0600 even under umask 000', async () => {
    const box = sandbox();
    rmSync(box.configDir, { recursive: true });
    const dir = join(box.configDir, 'nested');
    const result = await new Promise<number | null>((resolve) => {
      const child = spawn('sh', ['-c', `umask 000; exec "${process.execPath}" "${clawBin}" config set gateways.t.limit 3`], {
        env: { ...box.env, CLAW_CONFIG_DIR: dir },
        stdio: 'ignore',
      });
      child.once('close', resolve);
    });
    expect(result).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('a FIFO named config.json is refused (78) at once, by reads and by config set', async () => {
    const box = sandbox();
    const file = join(box.configDir, 'config.json');
    rmSync(file);
    execFileSync('mkfifo', [file]);
    for (const args of [['status'], ['config', 'list'], ['config', 'set', 'gateways.t.limit', '3']]) {
      const result = await runClaw(args, box.env);
      expect(result.code, args.join(' ')).toBe(78);
      expect(oneLine(result)).toBe(`claw: the config file ${file} is a FIFO, not a JSON file: replace it with a regular file`);
    }
  }, 30_000);
});
