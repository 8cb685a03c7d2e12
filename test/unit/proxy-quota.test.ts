// The proxy's pure rules: which upstream answers are a spent quota, when they reset, and usage from replies.
import { describe, expect, it } from 'vitest';
import { classifyAnswer, quotaReplyBody, quotaResetAt } from '../../src/proxy/quota';
import { jsonUsageScanner, sseUsageScanner, tokenUsage, usageCounters } from '../../src/proxy/usage';

const now = Date.parse('2026-05-01T10:00:00Z');
const body = (message: string, type?: string) => JSON.stringify({ error: { message, ...(type ? { type, code: type } : {}) } });

describe('classifyAnswer', () => {
  it.each([
    [402, body('Payment required'), 'quota'],
    [429, body('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota'), 'quota'],
    [429, body('Your daily spending limit has been reached'), 'quota'],
    [403, body('weekly usage limit reached; resets at 2026-05-04T00:00:00Z'), 'quota'],
    [429, body('Rate limit reached for requests'), 'rateLimited'],
    [429, body('Too Many Requests'), 'rateLimited'],
    [403, body('Invalid API key'), 'other'],
    [500, body('insufficient_quota'), 'other'],
    [400, body('bad request'), 'other'],
  ])('%i %s is %s', (status, text, kind) => {
    expect(classifyAnswer(status, text, undefined, now).kind).toBe(kind);
  });

  it('keeps the Retry-After of a plain 429 and the message of a quota answer', () => {
    expect(classifyAnswer(429, body('slow down'), '7', now)).toEqual({ kind: 'rateLimited', retryAfterMs: 7000 });
    expect(classifyAnswer(402, body('You exceeded your current quota'), undefined, now)).toEqual({ kind: 'quota', message: 'You exceeded your current quota' });
  });
});

describe('quotaResetAt', () => {
  it.each([
    ['Retry-After seconds', body('insufficient_quota'), '3600', now + 3_600_000],
    ['a reset timestamp in the message', body('weekly usage limit reached; resets at 2026-05-04T00:00:00Z'), undefined, Date.parse('2026-05-04T00:00:00Z')],
    ['a reset time with a space and UTC', body('daily spending limit; resets at 2026-05-02 00:00 UTC'), undefined, Date.parse('2026-05-02T00:00:00Z')],
    ['a resets_at field in epoch seconds', JSON.stringify({ error: { message: 'quota', resets_at: now / 1000 + 600 } }), undefined, now + 600_000],
    ['a span in the message', body('daily limit spent; try again in 2h 30m'), undefined, now + 2.5 * 3_600_000],
  ])('reads %s', (_name, text, retryAfter, expected) => {
    expect(quotaResetAt(text, retryAfter, now)).toBe(expected);
  });

  it('ignores resets in the past and absurdly far away', () => {
    expect(quotaResetAt(body('resets at 2026-04-01T00:00:00Z'), undefined, now)).toBeUndefined();
    expect(quotaResetAt(body('try again in 900 days'), undefined, now)).toBeUndefined();
    expect(quotaResetAt(body('You exceeded your current quota'), undefined, now)).toBeUndefined();
  });
});

describe('quotaReplyBody', () => {
  it('is an OpenAI insufficient_quota error naming the block', () => {
    const reply = JSON.parse(quotaReplyBody('nvidia', now + 60_000, 'You exceeded your current quota'));
    expect(reply.error.type).toBe('insufficient_quota');
    expect(reply.error.code).toBe('insufficient_quota');
    expect(reply.error.message).toContain('gateway nvidia is blocked (quota spent) until 2026-05-01T10:01:00.000Z');
  });
});

describe('usage scanners', () => {
  const sse = [
    'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n',
    'data: {"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":8}}\n\n',
    'data: [DONE]\n\n',
  ].join('');

  it('finds the usage of the last SSE chunk, whatever the chunk boundaries', () => {
    for (const size of [1, 3, 7, 50, sse.length]) {
      const scanner = sseUsageScanner();
      for (let i = 0; i < sse.length; i += size) scanner.push(Buffer.from(sse.slice(i, i + size)));
      expect(scanner.end()).toEqual({ promptTokens: 120, completionTokens: 8 });
    }
  });

  it('reads usage from a JSON reply, and nothing from a reply without one', () => {
    const json = jsonUsageScanner();
    json.push(Buffer.from('{"choices":[],"usage":{"prompt_tokens":5,'));
    json.push(Buffer.from('"completion_tokens":2}}'));
    expect(json.end()).toEqual({ promptTokens: 5, completionTokens: 2 });
    const none = sseUsageScanner();
    none.push(Buffer.from('data: {"choices":[]}\n\ndata: [DONE]\n\n'));
    expect(none.end()).toBeUndefined();
  });

  it('counts per gateway and per agent, and reads the counters back', () => {
    const counters: Record<string, number> = {};
    for (const [name, n] of [
      ...usageCounters({ promptTokens: 10, completionTokens: 2 }, 'coo'),
      ...usageCounters({ promptTokens: 5, completionTokens: 1 }, undefined),
    ]) {
      counters[name] = (counters[name] ?? 0) + n;
    }
    expect(tokenUsage(counters)).toEqual({ prompt: 15, completion: 3, byAgent: { coo: { prompt: 10, completion: 2 } } });
  });
});
