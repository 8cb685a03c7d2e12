// The shared limit across real OS processes: each `claw` below is its own node process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { busiestWindow, finished, logStart, readStarts, runClaw, sandbox, startClaw, statusJson, timingStores, waitFor } from '../helpers/claw';

// Starts are logged by `sh` after their admission, later still while dozens of processes boot: a
// margin wider than the default 250 ms keeps that lag from reading as a limit broken.
const marginMs = 750;

const starts = readStarts;

describe.each(timingStores)('shared limit across processes (%s store)', (store) => {
  it('40 processes through a 5-per-2s gateway: no 2s window holds more than 5 starts, and the limit is used', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 5, window: '2s', margin: `${marginMs}ms` } } });
    const log = join(box.root, 'starts.log');
    const began = Date.now();
    const results = await Promise.all(Array.from({ length: 40 }, () => finished(startClaw(['call', '--gateway', 't', '--', ...logStart(log)], box.env))));
    const elapsed = Date.now() - began;
    expect(results.map((r) => r.code)).toEqual(Array(40).fill(0));
    const times = starts(log).map((s) => s.at);
    expect(times).toHaveLength(40);
    expect(busiestWindow(times, 2000)).toBeLessThanOrEqual(5);
    // 8 batches of 5: the last batch starts 7 windows (plus margins) after the first.
    expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(7 * (2000 + marginMs) + 1500);
    expect(elapsed).toBeLessThanOrEqual((40 / 5) * 2000 + 8 * marginMs + 6000);
    const status = await statusJson(box.env);
    const t = status.gateways.find((g: any) => g.name === 't');
    expect(t.counters.admitted).toBe(40);
    expect(t.waiters).toEqual({ urgent: 0, high: 0, normal: 0, low: 0 });
  });

  it('with the gateway saturated, every urgent waiter starts before the normal and low waiters queued before it', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 3, window: '5s' } } });
    const log = join(box.root, 'starts.log');
    for (let i = 0; i < 3; i++) expect((await runClaw(['call', '--gateway', 't', '--', ...logStart(log, 'fill')], box.env)).code).toBe(0);
    const early = [
      ...['normal', 'normal', 'normal', 'low', 'low', 'low'].map((p) =>
        startClaw(['call', '--gateway', 't', '--priority', p, '--max-wait', '60s', '--', ...logStart(log, p)], box.env),
      ),
    ];
    await waitFor(async () => {
      const w = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't').waiters;
      return w.normal === 3 && w.low === 3;
    });
    const urgent = [1, 2, 3].map(() => startClaw(['call', '--gateway', 't', '--priority', 'urgent', '--', ...logStart(log, 'urgent')], box.env));
    const results = await Promise.all([...early, ...urgent].map(finished));
    expect(results.map((r) => r.code)).toEqual(Array(9).fill(0));
    const order = starts(log).filter((s) => s.label !== 'fill');
    const lastUrgent = Math.max(...order.filter((s) => s.label === 'urgent').map((s) => s.at));
    const firstOther = Math.min(...order.filter((s) => s.label !== 'urgent').map((s) => s.at));
    expect(order.filter((s) => s.label === 'urgent')).toHaveLength(3);
    expect(lastUrgent).toBeLessThan(firstOther);
    expect(
      busiestWindow(
        starts(log).map((s) => s.at),
        5000,
      ),
    ).toBeLessThanOrEqual(3);
  });

  it('a waiter killed with -9 stops blocking within 2s; nothing is lost or counted twice', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 1, window: '3s', margin: `${marginMs}ms` } } });
    const log = join(box.root, 'starts.log');
    expect((await runClaw(['call', '--gateway', 't', '--', ...logStart(log, 'fill')], box.env)).code).toBe(0);
    const victim = startClaw(['call', '--gateway', 't', '--priority', 'urgent', '--', ...logStart(log, 'victim')], box.env);
    await waitFor(async () => (await statusJson(box.env)).gateways.find((g: any) => g.name === 't').waiters.urgent === 1);
    const survivor = startClaw(['call', '--gateway', 't', '--priority', 'normal', '--', ...logStart(log, 'survivor')], box.env);
    await waitFor(async () => (await statusJson(box.env)).gateways.find((g: any) => g.name === 't').waiters.normal === 1);
    // Kill the urgent waiter before the slot frees (its registration outlives the kill by up to
    // 1.5 s), so its stale registration is what blocks.
    const fill = starts(log)[0]!.at;
    const killAt = fill + 3000 + marginMs - 800;
    expect(Date.now(), 'the waiters queued too slowly to kill one before the slot frees').toBeLessThan(killAt);
    await new Promise((r) => setTimeout(r, killAt - Date.now()));
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    const result = await finished(survivor);
    expect(result.code).toBe(0);
    const survivorStart = starts(log).find((s) => s.label === 'survivor')!.at;
    expect(survivorStart - killedAt).toBeLessThanOrEqual(2000);
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(starts(log).map((s) => s.label)).toEqual(['fill', 'survivor']);
    expect(t.counters.admitted).toBe(2);
    expect(t.waiters).toEqual({ urgent: 0, high: 0, normal: 0, low: 0 });
  });

  // Redis runs each change as one server-side script: a client killed mid-change leaves nothing half-done.
  it.runIf(store === 'sqlite')('a process killed with -9 inside a store transaction: the others go on within 2s and the state still reads', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 10, window: '10s' } } });
    const log = join(box.root, 'starts.log');
    expect((await runClaw(['call', '--gateway', 't', '--', ...logStart(log, 'first')], box.env)).code).toBe(0);
    const holder = startClaw(['call', '--gateway', 't', '--', ...logStart(log, 'holder')], { ...box.env, CLAW_TEST_HOLD_TX_MS: '30000' });
    let holderErr = '';
    holder.stderr!.on('data', (d) => (holderErr += d));
    await waitFor(() => holderErr.includes('holding a store transaction'));
    const others = [1, 2, 3].map(() => startClaw(['call', '--gateway', 't', '--', ...logStart(log, 'other')], box.env));
    await new Promise((r) => setTimeout(r, 1000));
    expect(starts(log).filter((s) => s.label === 'other')).toHaveLength(0);
    holder.kill('SIGKILL');
    const killedAt = Date.now();
    const results = await Promise.all(others.map(finished));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    const otherStarts = starts(log).filter((s) => s.label === 'other');
    expect(otherStarts).toHaveLength(3);
    expect(Math.max(...otherStarts.map((s) => s.at)) - killedAt).toBeLessThanOrEqual(2000);
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters.admitted).toBe(4);
    expect(t.used).toBe(4);
    expect(starts(log).some((s) => s.label === 'holder')).toBe(false);
  });

  it('a clock that jumps back mints no capacity', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 3, window: '30s' } } });
    for (let i = 0; i < 3; i++) expect((await runClaw(['call', '--gateway', 't', '--', 'true'], box.env)).code).toBe(0);
    for (const offset of ['-60000', '-3600000']) {
      const back = { ...box.env, CLAW_CLOCK_OFFSET_MS: offset };
      const dry = JSON.parse((await runClaw(['call', '--gateway', 't', '--dry-run', '--json', '--', 'true'], back)).stdout);
      expect(dry.free).toBe(0);
      const result = await runClaw(['call', '--gateway', 't', '--max-wait', '0', '--', 'true'], back);
      expect(result.code).toBe(75);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters.admitted).toBe(3);
    expect(t.counters.dropped).toBe(2);
  });

  it('low priority gives up after 2s without a fallback, takes the fallback when it has room, and never takes the reserve', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 5, window: '30s' }, spare: { match: ['spare'], limit: 5, window: '30s' } } });
    // Low may use 4 of 5 slots (reserveLow 0.2).
    for (let i = 0; i < 4; i++) expect((await runClaw(['call', '--gateway', 't', '--priority', 'low', '--', 'true'], box.env)).code).toBe(0);
    const began = Date.now();
    const dropped = await runClaw(['call', '--gateway', 't', '--priority', 'low', '--', 'true'], box.env);
    expect(dropped.code).toBe(75);
    expect(Date.now() - began).toBeGreaterThanOrEqual(2000);
    expect(dropped.stderr).toMatch(/^claw: gave up: no slot on t within 2s \(low priority\)/);
    const fellBack = await runClaw(
      [
        'call',
        '--model',
        't/big',
        '--priority',
        'low',
        '--max-wait',
        '200ms',
        '--fallback-model',
        'spare/small',
        '--',
        'sh',
        '-c',
        'echo "$CLAW_MODEL {model} $CLAW_GATEWAY"',
      ],
      box.env,
    );
    expect(fellBack.code).toBe(0);
    expect(fellBack.stdout.trim()).toBe('spare/small spare/small spare');
    // The reserved fifth slot is still there for urgent work.
    expect((await runClaw(['call', '--gateway', 't', '--priority', 'urgent', '--max-wait', '0', '--', 'true'], box.env)).code).toBe(0);
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters).toMatchObject({ admitted: 5, dropped: 1, fallbacks: 1 });
  });

  it('retries a command whose output says it was rate limited, each retry a new admission, and passes its exit code through', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { limit: 10, window: '10s' } } });
    const counter = join(box.root, 'attempts');
    const script = `n=$(cat "${counter}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${counter}"; if [ $n -lt 3 ]; then echo "HTTP 429 Too Many Requests" >&2; exit 1; fi; exit 7`;
    const result = await runClaw(['call', '--gateway', 't', '--backoff-base', '10ms', '--', 'sh', '-c', script], box.env);
    expect(result.code).toBe(7);
    expect(readFileSync(counter, 'utf8').trim()).toBe('3');
    const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters).toMatchObject({ admitted: 3, retries: 2, rateLimited: 2 });
  });
});
