// A spent quota seen once by `claw proxy` blocks every process on the store: other proxies answer 402
// at once, `claw call` exits 75 (or takes its fallback), a heartbeat defers; none calls the provider.
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { runClaw, sandbox, statusJson, timingStores } from '../helpers/claw';
import { fleet, isDispatch, isNotify } from '../helpers/fleet';
import { startUpstream, type Upstream } from '../helpers/openai-upstream';
import { startProxyProcess, stopAllProxies, type ProxyProcess } from '../helpers/proxy';

const key = 'sk-proxy-SECRET-0123456789';
const spent = {
  status: 429,
  body: {
    error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', code: 'insufficient_quota' },
  },
};
let upstreams: Upstream[] = [];
afterEach(async () => {
  await stopAllProxies();
  await Promise.all(upstreams.map((u) => u.close()));
  upstreams = [];
});
const upstream = async () => {
  const u = await startUpstream();
  upstreams.push(u);
  return u;
};
const ask = (proxy: ProxyProcess) =>
  new OpenAI({ baseURL: `${proxy.url}/nv/v1`, apiKey: 'client', maxRetries: 0 }).chat.completions
    .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    .catch((err) => err);

describe.each(timingStores)('quota blocks (%s store)', (store) => {
  it('a spent quota blocks every process after one upstream answer', async () => {
    const provider = await upstream();
    const other = await upstream();
    provider.quota = spent;
    const box = sandbox({ NV_KEY: key, OTHER_KEY: key }, store);
    box.writeConfig({
      gateways: {
        nv: { match: ['nv'], limit: 10, window: '60s', baseUrl: provider.url, apiKeyEnv: 'NV_KEY', quotaBlock: '10m' },
        other: { match: ['other'], baseUrl: other.url, apiKeyEnv: 'OTHER_KEY' },
      },
    });
    const first = await startProxyProcess(box.env);
    const second = await startProxyProcess(box.env);
    const before = Date.now();
    const answers = [await ask(first), await ask(first), await ask(second)];
    // OpenClaw fails over at once on a 402 (it would wait out a 429's Retry-After, up to 9 times).
    expect(answers.map((a) => a.status)).toEqual([402, 402, 402]);
    for (const a of answers) expect(a.code).toBe('insufficient_quota');
    expect(answers[2].message).toContain('gateway nv is blocked (quota spent) until');
    expect(provider.requests).toHaveLength(1);

    const call = await runClaw(['call', '--model', 'nv/m', '--prompt', 'hi'], box.env);
    expect(call.code).toBe(75);
    expect(call.stderr).toMatch(
      /^claw: gateway nv is blocked until \S+ \(quota spent: You exceeded your current quota.*\); pass --fallback-model or try again then\n$/,
    );
    const fallback = await runClaw(['call', '--model', 'nv/m', '--fallback-model', 'other/backup', '--prompt', 'hi'], box.env);
    expect(fallback).toMatchObject({ code: 0, stdout: 'ok backup\n' });
    expect(provider.requests).toHaveLength(1);

    const nv = (await statusJson(box.env)).gateways.find((g: any) => g.name === 'nv');
    expect(nv.block).toMatchObject({ reason: 'quota', message: expect.stringContaining('exceeded your current quota') });
    const until = Date.parse(nv.block.until);
    expect(until).toBeGreaterThanOrEqual(before + 10 * 60_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 10 * 60_000 + 1000);
    const table = (await runClaw(['status'], box.env)).stdout;
    expect(table).toMatch(/^blocked: nv until \S+ \(\S+ left, quota\) by .*: You exceeded your current quota.*; clear it with `claw unblock nv`$/m);
    for (const p of [first, second]) expect(await p.stop()).toBe(0);
  });

  it('a reset time in the answer sets the end of the block', async () => {
    const provider = await upstream();
    const resetAt = new Date(Math.ceil((Date.now() + 3 * 3_600_000) / 1000) * 1000).toISOString();
    provider.quota = { status: 403, body: { error: { message: `Weekly usage limit reached; resets at ${resetAt}` } } };
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig({ gateways: { nv: { match: ['nv'], baseUrl: provider.url, apiKeyEnv: 'NV_KEY' } } });
    const proxy = await startProxyProcess(box.env);
    // A 403 from the provider that means "quota" is answered 402: a 403 would read as a bad key.
    expect((await ask(proxy)).status).toBe(402);
    const nv = (await statusJson(box.env)).gateways.find((g: any) => g.name === 'nv');
    // The store keeps its own timeline; status shows it on the reader's clock, within milliseconds.
    expect(nv.block.reason).toBe('quota');
    expect(Math.abs(Date.parse(nv.block.until) - Date.parse(resetAt))).toBeLessThan(1000);
  });
});

describe('a heartbeat on a quota-blocked gateway', () => {
  it('does not dispatch (deferred, no round counted) and escalates once per block', async () => {
    const provider = await upstream();
    provider.quota = spent;
    const notify = ['openclaw', 'message', 'send', '--channel', 'feishu', '--target', 'ops', '--message', '{message}'];
    const f = fleet({ agents: ['coo'], agentOverrides: { coo: { notify } }, env: { NV_KEY: key } });
    f.writeConfig({ gateways: { nvidia: { baseUrl: provider.url, apiKeyEnv: 'NV_KEY' } } });
    f.writeTodo('coo', '- [ ] Write the report\n');
    const proxy = await startProxyProcess(f.env);
    const client = new OpenAI({ baseURL: `${proxy.url}/nvidia/v1`, apiKey: 'client', maxRetries: 0 });
    expect((await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)).status).toBe(402);
    const runs = [];
    for (let i = 0; i < 2; i++) runs.push(JSON.parse((await runClaw(['heartbeat', 'coo', '--no-splay', '--json'], f.env)).stdout));
    expect(runs.map((r) => r.outcome)).toEqual(['deferred', 'deferred']);
    expect(runs[1].claimable[0].rounds).toBe(0);
    expect(runs[0].error).toMatch(/^not dispatched: gateway nvidia is blocked until \S+ \(quota spent: You exceeded your current quota/);
    expect(f.calls(isDispatch)).toHaveLength(0);
    expect(f.calls(isNotify)).toHaveLength(1);
    expect(f.calls(isNotify)[0]!.argv.join(' ')).toContain('gateway nvidia is blocked');
    expect(provider.requests).toHaveLength(1);
  });

  it('a dispatch whose gateway is proxied takes no slot of its own', async () => {
    const f = fleet({ agents: ['coo'] });
    f.writeConfig({ gateways: { nvidia: { limit: 5, proxied: true } } });
    f.writeTodo('coo', '- [ ] Write the report\n');
    const report = JSON.parse((await runClaw(['heartbeat', 'coo', '--no-splay', '--json'], f.env)).stdout);
    expect(report.outcome).toBe('dispatched');
    expect(f.calls(isDispatch)).toHaveLength(1);
    const nvidia = (await statusJson(f.env)).gateways.find((g: any) => g.name === 'nvidia');
    expect(nvidia.counters.admitted).toBe(0);
    expect(nvidia.used).toBe(0);
  });
});
