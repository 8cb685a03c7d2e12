import { describe, expect, it } from 'vitest';
import { capacityFor, decide, freeSlots } from '../../src/limiter/admission';
import { backoffDelay, parseRetryAfter } from '../../src/limiter/backoff';
import { resolveGateway, toGateway } from '../../src/limiter/gateways';
import { waitQuantile } from '../../src/limiter/report';
import { parseDuration } from '../../src/duration';
import { parsePriority } from '../../src/priority';
import { configProblem } from '../../src/config/config';

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
    for (const bad of ['', '-1s', '5x', '1 hour', 'abc']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('priorities', () => {
    expect(['urgent', 'HIGH', 'normal', 'low', '1', '4'].map(parsePriority)).toEqual([1, 2, 3, 4, 1, 4]);
    expect(parsePriority('5')).toBeUndefined();
    expect(parsePriority('asap')).toBeUndefined();
  });

  it('Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });

  it('backoff is exponential with full jitter, capped, with Retry-After as a floor', () => {
    const policy = { retries: 3, baseMs: 1000, capMs: 60_000 };
    expect(backoffDelay(policy, 0, 0, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 3, 0, () => 0.5)).toBe(4000);
    expect(backoffDelay(policy, 10, 0, () => 1)).toBe(60_000);
    expect(backoffDelay(policy, 0, 5000, () => 0.1)).toBe(5000);
  });

  it('wait quantiles come from the histogram buckets', () => {
    expect(waitQuantile({}, 0.5)).toBeNull();
    expect(waitQuantile({ wait_le_0: 9, wait_le_2000: 1 }, 0.5)).toBe(0);
    expect(waitQuantile({ wait_le_0: 9, wait_le_2000: 1 }, 0.95)).toBe(2000);
  });
});

describe('config validation', () => {
  it('names the key and the reason', () => {
    expect(configProblem({ gateways: { t: { limit: -5 } } })).toMatch(/^gateways\.t: "limit" must be a whole number/);
    expect(configProblem({ gateways: { t: { limit: 5, burst: 6 } } })).toMatch(/"burst" \(6\) cannot exceed "limit" \(5\)/);
    expect(configProblem({ gatways: {} })).toMatch(/unknown key "gatways"/);
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
