import { describe, expect, it } from 'vitest';
import { capacityFor, decide, freeSlots } from '../../src/limiter/admission';
import { backoffDelay, parseRetryAfter } from '../../src/limiter/backoff';
import { resolveGateway, toGateway } from '../../src/limiter/gateways';
import { waitQuantile } from '../../src/limiter/report';
import { parseDuration } from '../../src/duration';
import { parsePriority } from '../../src/priority';
import { configProblem } from '../../src/config/config';
import { maxTime, timeline } from '../../src/store/clock';
import { activeBlock, blockEnd, storedInfo } from '../../src/store/blocks';
import { joinedParts, prng } from '../helpers/hostile';

const t = toGateway('t', { limit: 5, window: '10s', margin: 0 });

describe('admission math', () => {
  it('admits up to the limit in any rolling window, then says when a slot frees', () => {
    expect(decide(t, 3, 1000, { times: [100, 200, 300, 400], ahead: 0, blockedUntil: 0 })).toEqual({ admit: true });
    const full = decide(t, 3, 1000, { times: [100, 200, 300, 400, 500], ahead: 0, blockedUntil: 0 });
    expect(full).toMatchObject({ admit: false, reason: 'full', free: 0, wakeAt: 10_100, estimateAt: 10_100 });
    // Slots older than the window no longer count.
    expect(decide(t, 3, 10_101, { times: [100, 200, 300, 400, 500], ahead: 0, blockedUntil: 0 })).toEqual({ admit: true });
  });

  it('gives way to live waiters ranked ahead', () => {
    expect(decide(t, 3, 1000, { times: [100, 200, 300], ahead: 2, blockedUntil: 0 })).toMatchObject({ admit: false, reason: 'queued', wakeAt: 1050 });
    expect(decide(t, 3, 1000, { times: [100, 200, 300], ahead: 1, blockedUntil: 0 })).toEqual({ admit: true });
  });

  it('keeps the last 20% of a window from low priority', () => {
    expect(capacityFor(t, 4)).toBe(4);
    expect(capacityFor(t, 1)).toBe(5);
    expect(decide(t, 4, 1000, { times: [1, 2, 3, 4], ahead: 0, blockedUntil: 0 })).toMatchObject({ admit: false });
    expect(decide(t, 1, 1000, { times: [1, 2, 3, 4], ahead: 0, blockedUntil: 0 })).toEqual({ admit: true });
    expect(capacityFor(toGateway('one', { limit: 1 }), 4)).toBe(1);
  });

  it('honours a 429 block for every priority', () => {
    expect(decide(t, 1, 1000, { times: [], ahead: 0, blockedUntil: 5000 })).toMatchObject({ admit: false, reason: 'blocked', wakeAt: 5000 });
  });

  it('caps back-to-back admissions with burst', () => {
    const bursty = toGateway('b', { limit: 10, window: '10s', burst: 2, margin: 0 });
    // burst 2 of 10 per 10s: at most 2 in any 2s.
    expect(freeSlots(bursty, 3, 1000, [900, 950])).toBe(0);
    expect(freeSlots(bursty, 3, 3000, [900, 950])).toBe(2);
    expect(decide(bursty, 3, 1000, { times: [900, 950], ahead: 0, blockedUntil: 0 })).toMatchObject({ admit: false, wakeAt: 2900 });
  });
});

describe('gateways', () => {
  it('resolves the built-in NVIDIA aliases, by --gateway or the provider of --model', () => {
    for (const id of ['nvidia', 'nvidia-gateway', 'nvidia_gateway', 'nvidiavx18088980513', 'NVIDIA-custom']) {
      expect(resolveGateway({}, { gateway: id })).toMatchObject({ name: 'nvidia', limited: true, limit: 40, windowMs: 60_000 });
    }
    expect(resolveGateway({}, { model: 'nvidiavx18088980513/deepseek-ai/deepseek-v4-pro' }).name).toBe('nvidia');
    for (const model of ['volcengine-plan/ark-code-latest', 'siliconflow/Qwen/Qwen3', 'deepseek/deepseek-chat']) {
      expect(resolveGateway({}, { model }).limited).toBe(false);
    }
    expect(resolveGateway({}, { model: 'mystery/x' })).toMatchObject({ name: 'mystery', limited: false });
  });

  it('lets user config override a built-in and add gateways', () => {
    const config = { gateways: { nvidia: { limit: 20 }, mine: { match: ['mine-*'], limit: 3, window: '2s' } } };
    expect(resolveGateway(config, { gateway: 'nvidia' })).toMatchObject({ limit: 20, windowMs: 60_000 });
    expect(resolveGateway(config, { model: 'mine-eu/m' })).toMatchObject({ name: 'mine', limit: 3, windowMs: 2000 });
  });
});

describe('parsing', () => {
  it('durations', () => {
    expect([parseDuration('500ms'), parseDuration('2s'), parseDuration('10m'), parseDuration('1h'), parseDuration('90'), parseDuration(1.5)]).toEqual([
      500, 2000, 600_000, 3_600_000, 90_000, 1500,
    ]);
    for (const bad of ['', '-1s', '5x', '1 hour', 'abc', '.5s', '1.s', '1e3', 'constructor', '1 toString', '1 __proto__'])
      expect(parseDuration(bad), bad).toBeUndefined();
  });

  it('durations as the pattern they were read with before, on strings built from their pieces', () => {
    const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
    const before = (text: string) => {
      const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text.toLowerCase());
      return match ? Math.round(Number(match[1]) * units[match[2] ?? 's']!) : undefined;
    };
    const parts = ['0', '1', '25', '.', ' ', '\t', '\u00a0', 'ms', 'MS', 's', 'm', 'H', 'd', 'x', '-', 'e', '١', ''];
    const rand = prng(11);
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = joinedParts(rand, parts);
      const expected = before(text);
      expect(parseDuration(text), JSON.stringify(text)).toBe(expected);
      if (expected !== undefined) parsed++;
    }
    expect(parsed).toBeGreaterThan(1000); // the generator reaches both answers
  });

  it('priorities', () => {
    expect(['urgent', 'HIGH', 'normal', 'low', '1', '4'].map(parsePriority)).toEqual([1, 2, 3, 4, 1, 4]);
    expect(parsePriority('5')).toBeUndefined();
    expect(parsePriority('asap')).toBeUndefined();
  });

  it('Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toEqual({ ms: 3000, askedMs: 3000 });
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toEqual({ ms: 6000, askedMs: 6000 });
    for (const bad of ['soon', '-5', '5 s', '1e3', '0x10', 'Infinity', '']) expect(parseRetryAfter(bad, 0)).toBeUndefined();
  });

  it('Retry-After is always finite and within the ceiling: huge seconds, 2099, the past', () => {
    const now = Date.parse('2026-08-21T10:00:00Z');
    expect(parseRetryAfter('99999999999999999999', now)).toEqual({ ms: 600_000, askedMs: 1e23 });
    expect(parseRetryAfter('9'.repeat(400), now)).toEqual({ ms: 600_000, askedMs: Infinity });
    expect(parseRetryAfter('86400', now)).toEqual({ ms: 600_000, askedMs: 86_400_000 });
    expect(parseRetryAfter('Thu, 01 Jan 2099 00:00:00 GMT', now)!.ms).toBe(600_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', now)).toEqual({ ms: 0, askedMs: 0 });
    expect(parseRetryAfter('86400', now, 30_000)!.ms).toBe(30_000);
    // No ceiling lets a block past 24 h.
    expect(parseRetryAfter('86401', now, Infinity)!.ms).toBe(86_400_000);
  });

  it('backoff is exponential with full jitter, capped, with a floor that never passes the cap', () => {
    const policy = { retries: 3, baseMs: 1000, capMs: 60_000 };
    expect(backoffDelay(policy, 0, 0, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 3, 0, () => 0.5)).toBe(4000);
    expect(backoffDelay(policy, 10, 0, () => 1)).toBe(60_000);
    expect(backoffDelay(policy, 0, 5000, () => 0.1)).toBe(5000);
    expect(backoffDelay(policy, 0, 86_400_000, () => 0.1)).toBe(60_000);
    expect(backoffDelay(policy, 5000, 0, () => 1)).toBe(60_000);
  });

  it('wait quantiles come from the histogram buckets', () => {
    expect(waitQuantile({}, 0.5)).toBeNull();
    expect(waitQuantile({ wait_le_0: 9, wait_le_2000: 1 }, 0.5)).toBe(0);
    expect(waitQuantile({ wait_le_0: 9, wait_le_2000: 1 }, 0.95)).toBe(2000);
  });
});

describe('the SQLite store clock (one timeline per boot, on the monotonic clock)', () => {
  const boot = 7;
  it('anchors once on the wall clock and the high mark, then follows only the monotonic clock', () => {
    const first = timeline({}, { wall: 1_000_000, mono: 50, boot });
    expect(first).toEqual({ now: 1_000_000, anchor: { boot, mono: 50, base: 1_000_000 } });
    const anchor = first.anchor!;
    // Any wall clock, a day ahead or behind or absurd, reads the same timeline.
    for (const wall of [1_000_000 + 86_400_000, 1_000_000 - 86_400_000, 1e20, -1e20, NaN]) {
      expect(timeline({ high: 1_000_000, anchor }, { wall, mono: 3050, boot })).toEqual({ now: 1_003_000 });
    }
    // A high mark ahead of the timeline (an older claw ahead) does not freeze it.
    expect(timeline({ high: 9e12, anchor }, { wall: 0, mono: 3050, boot })).toEqual({ now: 1_003_000 });
  });

  it('a new boot or a monotonic clock that went back re-anchors at max(wall, high); an absurd mark is dropped', () => {
    const anchor = { boot, mono: 5000, base: 2_000_000 };
    expect(timeline({ high: 2_500_000, anchor }, { wall: 1_000_000, mono: 10, boot: 8 })).toEqual({
      now: 2_500_000,
      anchor: { boot: 8, mono: 10, base: 2_500_000 },
    });
    expect(timeline({ high: 2_500_000, anchor }, { wall: 3_000_000, mono: 10, boot })).toMatchObject({ now: 3_000_000 });
    expect(timeline({ high: 1e20 }, { wall: 3_000_000, mono: 10, boot })).toMatchObject({ now: 3_000_000 });
    expect(timeline({}, { wall: 1e20, mono: 10, boot }).now).toBe(maxTime);
    expect(timeline({}, { wall: NaN, mono: 10, boot }).now).toBe(0);
  });
});

describe('blocks', () => {
  const now = 1_000_000_000;
  it('end at most 24 h after they were set; one with no start (an older claw) at most 10 min from now; junk is no block', () => {
    expect(blockEnd({ until: now + 5000, setAt: now }, now)).toBe(now + 5000);
    expect(blockEnd({ until: 1e23, setAt: now - 1000 }, now)).toBe(now - 1000 + 86_400_000);
    expect(blockEnd({ until: 1e23, setAt: null }, now)).toBe(now + 600_000);
    expect(blockEnd({ until: 1e23, setAt: 1e20 }, now)).toBe(now + 600_000);
    for (const until of [NaN, 'abc', null, -5, Infinity - Infinity]) expect(blockEnd({ until, setAt: now }, now)).toBe(0);
    expect(activeBlock({ until: now + 10, setAt: now, origin: '', reason: '' }, now)).toEqual({
      until: now + 10,
      setAt: now,
      reason: 'rate_limited',
      origin: 'set by an older claw (no origin recorded)',
    });
    expect(activeBlock({ until: now - 1, setAt: now }, now)).toBeUndefined();
  });

  it('store one short line of text, whatever the upstream sent', () => {
    expect(storedInfo({ reason: 'quota', origin: 'a\n\tb', message: 'x'.repeat(500) })).toEqual({
      reason: 'quota',
      origin: 'a b',
      message: `${'x'.repeat(199)}…`,
    });
    expect(storedInfo(undefined)).toEqual({ reason: 'rate_limited', origin: 'not recorded', message: null });
  });
});

describe('config validation', () => {
  it('names the key and the reason', () => {
    expect(configProblem({ gateways: { t: { limit: -5 } } })).toMatch(/^gateways\.t: "limit" must be a whole number/);
    expect(configProblem({ gateways: { t: { limit: 5, burst: 6 } } })).toMatch(/"burst" \(6\) cannot exceed "limit" \(5\)/);
    expect(configProblem({ gatways: {} })).toMatch(/unknown key "gatways"/);
    expect(configProblem({ gateways: { t: { maxRetryAfter: '2d' } } })).toMatch(/^gateways\.t: "maxRetryAfter" must be a duration from 0ms to 24h/);
    expect(configProblem({ gateways: { t: { maxRetryAfter: '25h' } } })).toMatch(/"maxRetryAfter"/);
    expect(configProblem({ gateways: { t: { maxRetryAfter: '30s' } } })).toBeUndefined();
    expect(configProblem({ cache: { ttl: { workboard: 'later' } } })).toMatch(/cache\.ttl\.workboard/);
    expect(configProblem({ gateways: { t: { limit: 5, window: '2s', baseUrl: 'http://127.0.0.1:1/v1', apiKeyEnv: 'T_KEY' } } })).toBeUndefined();
  });
});

describe('store URLs', () => {
  it('never show a password', async () => {
    const { redactStoreUrl } = await import('../../src/store/open');
    expect(redactStoreUrl('redis://user:pa55@host:6379/2')).toBe('redis://user:***@host:6379/2');
    expect(redactStoreUrl('rediss://:pa55@host:6380')).toBe('rediss://:***@host:6380');
    expect(redactStoreUrl('redis://tokenonly@host')).toBe('redis://***@host');
    expect(redactStoreUrl('redis://host:6379')).toBe('redis://host:6379');
  });
});
