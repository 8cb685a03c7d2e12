// Clock steps (issue 11, item 7): processes whose clocks disagree (CLAW_CLOCK_OFFSET_MS) share one
// limit in real time, a process far ahead freezes nothing, and absurd offsets break nothing.
// Every start is logged by `date` (the real clock, which no offset touches).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { busiestWindow, logStart, readStarts, runClaw, sandbox, statusJson, timingStores } from '../helpers/claw';

const day = 86_400_000;

describe.each(timingStores)('clock steps (%s store)', (store) => {
  it('a process a day ahead (or behind) freezes nothing: normal processes get through within one window, and the limit holds', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 2, window: '3s' } } });
    const log = join(box.root, 'starts.log');
    const call = (offset: number, label: string) =>
      runClaw(['call', '--gateway', 't', '--max-wait', '4s', '--', ...logStart(log, label)], { ...box.env, CLAW_CLOCK_OFFSET_MS: String(offset) });
    expect((await call(0, 'normal')).code).toBe(0);
    for (const step of [day, -day]) {
      expect((await call(step, 'stepped')).code).toBe(0);
      // Each of these waits at most one window (3 s + margin) for a slot: --max-wait 4s.
      for (let i = 0; i < 3; i++) {
        const result = await call(0, 'normal');
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
      }
    }
    const times = readStarts(log).map((s) => s.at);
    expect(times).toHaveLength(9);
    expect(busiestWindow(times, 3000)).toBeLessThanOrEqual(2);
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters.admitted).toBe(9);
    expect(t.counters.dropped).toBe(0);
  });

  it('processes 3 s apart against 1 per 5 s: never two starts in any real 5 s, and no window is lost', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 1, window: '5s' } } });
    const log = join(box.root, 'starts.log');
    const offsets = ['0', '3000', '0', '3000', '-3000'];
    for (const offset of offsets) {
      const result = await runClaw(['call', '--gateway', 't', '--', ...logStart(log, offset)], { ...box.env, CLAW_CLOCK_OFFSET_MS: offset });
      expect(result.code).toBe(0);
    }
    const times = readStarts(log).map((s) => s.at);
    expect(times).toHaveLength(offsets.length);
    expect(busiestWindow(times, 5000)).toBe(1);
    // Capacity: each start follows the one before by about one window (5 s + 250 ms margin), no more.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(5250 + 1500);
  });

  it('absurd offsets (1e20, -1e20, NaN) are clamped: every call and status works, none exits 70, and the limit holds', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 2, window: '3s' } } });
    const log = join(box.root, 'starts.log');
    const offsets = ['1e20', '-1e20', 'NaN', '0', '1e20', '-1e20', 'Infinity'];
    for (const offset of offsets) {
      const env = { ...box.env, CLAW_CLOCK_OFFSET_MS: offset };
      const result = await runClaw(['call', '--gateway', 't', '--max-wait', '4s', '--', ...logStart(log, offset)], env);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      for (const form of [['status'], ['status', '--json'], ['status', '--prometheus']]) {
        const status = await runClaw(form, env);
        expect(status.stderr).toBe('');
        expect(status.code).toBe(0);
      }
    }
    const times = readStarts(log).map((s) => s.at);
    expect(times).toHaveLength(offsets.length);
    expect(busiestWindow(times, 3000)).toBeLessThanOrEqual(2);
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters.admitted).toBe(offsets.length);
    expect(t.used).toBeLessThanOrEqual(2);
    if (t.nextFreeAt) expect(Date.parse(t.nextFreeAt) - Date.now()).toBeLessThanOrEqual(3250 + 1000);
  });

  // Redis TIME is the one clock there: the step that matters is the server's own. A high mark a day
  // ahead of TIME is what the server's clock stepping back a day leaves behind.
  it.runIf(store === 'redis')("the Redis server's clock stepping back a day freezes nothing and mints nothing", async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 2, window: '3s' } } });
    const prefix = JSON.parse(readFileSync(join(box.configDir, 'config.json'), 'utf8')).storePrefix as string;
    const Redis = createRequire(__filename)('ioredis');
    const redis = new Redis(process.env.CLAW_TEST_REDIS_URL);
    const [seconds] = (await redis.time()) as [string, string];
    await redis.set(`${prefix}clock`, String(Number(seconds) * 1000 + day));
    await redis.quit();
    const log = join(box.root, 'starts.log');
    for (let i = 0; i < 6; i++) {
      const result = await runClaw(['call', '--gateway', 't', '--max-wait', '4s', '--', ...logStart(log)], box.env);
      expect(result).toMatchObject({ code: 0, stderr: '' });
    }
    const times = readStarts(log).map((s) => s.at);
    expect(busiestWindow(times, 3000)).toBeLessThanOrEqual(2);
  });
});
