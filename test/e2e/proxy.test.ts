// `claw proxy` as a real process, driven by the official OpenAI SDK, in front of a strict
// rolling-window provider on 127.0.0.1; `claw call` processes share its store.
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { busiestWindow, finished, runClaw, sandbox, startClaw, statusJson, timingStores, waitFor } from '../helpers/claw';
import { fleet } from '../helpers/fleet';
import { startUpstream, usageFor, type Upstream } from '../helpers/openai-upstream';
import { startProxyProcess, stopAllProxies, type ProxyProcess } from '../helpers/proxy';

const key = 'sk-proxy-SECRET-0123456789';
const clientKey = 'sk-client-OTHER-9876543210';
let upstream: Upstream | undefined;
afterEach(async () => {
  await stopAllProxies();
  await upstream?.close();
  upstream = undefined;
});

const gatewayConfig = (url: string, limit: number | undefined, window: string, extra: Record<string, unknown> = {}) => ({
  gateways: { nv: { match: ['nv'], ...(limit ? { limit } : {}), window, baseUrl: url, apiKeyEnv: 'NV_KEY', ...extra } },
});
const sdk = (proxy: ProxyProcess, headers: Record<string, string> = {}, gateway = 'nv') =>
  new OpenAI({ baseURL: `${proxy.url}/${gateway}/v1`, apiKey: clientKey, maxRetries: 0, defaultHeaders: headers });
const ask = (content: string) => ({ model: 'm', messages: [{ role: 'user' as const, content }] });
const nv = async (env: NodeJS.ProcessEnv) => (await statusJson(env)).gateways.find((g: any) => g.name === 'nv');
const expectNoKeys = (...texts: string[]) => {
  for (const text of texts) {
    expect(text).not.toContain(key);
    expect(text).not.toContain(clientKey);
  }
};

describe.each(timingStores)('claw proxy and the shared limit (%s store)', (store) => {
  it('answers concurrent requests beyond the limit, streamed or not, with zero 429s upstream', async () => {
    upstream = await startUpstream({ limit: 3, windowMs: 2000, chunks: 3 });
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig(gatewayConfig(upstream.url, 3, '2s'));
    const proxy = await startProxyProcess(box.env);
    const client = sdk(proxy);
    const replies = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        if (i % 2 === 0) return (await client.chat.completions.create(ask(`plain ${i}`))).choices[0]!.message.content;
        const stream = await client.chat.completions.create({ ...ask(`streamed ${i}`), stream: true, stream_options: { include_usage: true } });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        return text;
      }),
    );
    expect(replies).toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'ok m' : 'part0 part1 part2 ')));
    expect(upstream.rejected).toHaveLength(0);
    expect(upstream.accepted).toHaveLength(10);
    expect(busiestWindow(upstream.accepted, 2000)).toBeLessThanOrEqual(3);
    // The proxy's key replaced the client's; x-claw-* headers stay in the proxy.
    expect(new Set(upstream.requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${key}`]));
    const gateway = await nv(box.env);
    expect(gateway.counters.admitted).toBe(10);
    expect(gateway.tokens.prompt).toBe(upstream.requests.reduce((sum, r) => sum + usageFor(r.body).prompt_tokens, 0));
    expect(gateway.tokens.completion).toBe(70);
    expect(await proxy.stop()).toBe(0);
    expectNoKeys(proxy.stdout(), proxy.stderr());
  });

  it('proxy requests and claw call processes together never exceed the limit', async () => {
    upstream = await startUpstream({ limit: 4, windowMs: 2000 });
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig(gatewayConfig(upstream.url, 4, '2s'));
    const proxy = await startProxyProcess(box.env);
    const client = sdk(proxy);
    const calls = Array.from({ length: 6 }, (_, i) => finished(startClaw(['call', '--model', 'nv/m', '--prompt', `call ${i}`], box.env)));
    const viaProxy = Array.from({ length: 6 }, (_, i) => client.chat.completions.create(ask(`proxy ${i}`)));
    const [callResults, proxyResults] = await Promise.all([Promise.all(calls), Promise.all(viaProxy)]);
    expect(callResults.map((r) => r.code)).toEqual(Array(6).fill(0));
    expect(proxyResults.map((r) => r.choices[0]!.message.content)).toEqual(Array(6).fill('ok m'));
    expect(upstream.rejected).toHaveLength(0);
    expect(upstream.accepted).toHaveLength(12);
    expect(busiestWindow(upstream.accepted, 2000)).toBeLessThanOrEqual(4);
  });

  it('retries upstream 429s inside the proxy: every process backs off and the client gets a late answer, not a 429', async () => {
    upstream = await startUpstream({ limit: 2, windowMs: 2000 });
    const box = sandbox({ NV_KEY: key }, store);
    // The provider is stricter than the configured limit: it answers 429 with Retry-After.
    box.writeConfig(gatewayConfig(upstream.url, 5, '2s'));
    const proxy = await startProxyProcess(box.env);
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => sdk(proxy).chat.completions.create(ask(`r ${i}`))));
    expect(replies.map((r) => r.choices[0]!.message.content)).toEqual(Array(6).fill('ok m'));
    expect(upstream.accepted).toHaveLength(6);
    expect(upstream.rejected.length).toBeGreaterThan(0);
    expect(upstream.ignoredRetryAfter).toBe(0);
    const gateway = await nv(box.env);
    expect(gateway.counters.rateLimited).toBe(upstream.rejected.length);
    expect(gateway.counters.retries).toBe(upstream.rejected.length);
  });
});

describe('claw proxy', () => {
  it('passes SSE through as it arrives: the client has its first chunk before upstream writes its last', async () => {
    upstream = await startUpstream({ chunks: 6, chunkDelayMs: 250 });
    const box = sandbox({ NV_KEY: key });
    box.writeConfig(gatewayConfig(upstream.url, undefined, '60s'));
    const proxy = await startProxyProcess(box.env);
    const stream = await sdk(proxy, { 'x-claw-agent': 'coo' }).chat.completions.create({
      ...ask('stream please'),
      stream: true,
      stream_options: { include_usage: true },
    });
    let firstAt: number | undefined;
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      firstAt ??= Date.now();
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('part0 part1 part2 part3 part4 part5 ');
    expect(upstream.lastChunkAt).toHaveLength(1);
    expect(firstAt!).toBeLessThan(upstream.lastChunkAt[0]!);
    const expected = usageFor(upstream.requests[0]!.body);
    expect(usage).toMatchObject(expected);
    // The last chunk's usage is counted for the gateway and for the agent named in x-claw-agent.
    const gateway = await nv(box.env);
    expect(gateway.tokens).toEqual({ prompt: expected.prompt_tokens, completion: 7, byAgent: { coo: { prompt: expected.prompt_tokens, completion: 7 } } });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toContain(`claw_proxy_tokens_total{gateway="nv",agent="coo",kind="prompt"} ${expected.prompt_tokens}`);
    expect(metrics).toContain('claw_proxy_requests_total{gateway="nv",code="200"} 1');
    expect(upstream.requests[0]!.headers['x-claw-agent']).toBeUndefined();
    expect((await runClaw(['status'], box.env)).stdout).toContain(
      `nv: tokens ${expected.prompt_tokens} prompt / 7 completion (by agent, prompt/completion: coo ${expected.prompt_tokens}/7)`,
    );
  });

  it('takes the priority from x-claw-priority, else the roster priority of x-claw-agent, else proxy.priority', async () => {
    upstream = await startUpstream();
    const f = fleet({ agents: ['coo'], agentOverrides: { coo: { priority: 'high' } }, env: { NV_KEY: key } });
    // A 3 s window: all three are queued (two status checks between them) long before the slot frees.
    f.writeConfig({ ...gatewayConfig(upstream.url, 1, '3s'), proxy: { priority: 'low' } });
    const proxy = await startProxyProcess(f.env);
    await sdk(proxy).chat.completions.create(ask('first'));
    // Queued one after the other, lowest first: the slots go by priority, not by arrival.
    const plain = sdk(proxy).chat.completions.create(ask('plain'));
    await waitFor(async () => (await nv(f.env)).waiters.low === 1, 10_000, 50);
    const agent = sdk(proxy, { 'x-claw-agent': 'coo' }).chat.completions.create(ask('coo'));
    await waitFor(async () => (await nv(f.env)).waiters.high === 1, 10_000, 50);
    const urgent = sdk(proxy, { 'x-claw-priority': 'urgent', 'x-claw-agent': 'coo' }).chat.completions.create(ask('urgent'));
    await Promise.all([plain, agent, urgent]);
    expect(upstream.requests.map((r) => r.body.messages[0].content)).toEqual(['first', 'urgent', 'coo', 'plain']);
  });

  it('a client that disconnects while queued leaves the queue at once and takes no slot', async () => {
    upstream = await startUpstream();
    const box = sandbox({ NV_KEY: key });
    box.writeConfig(gatewayConfig(upstream.url, 1, '4s'));
    const proxy = await startProxyProcess(box.env);
    const client = sdk(proxy);
    await client.chat.completions.create(ask('first'));
    const abort = new AbortController();
    const gone = client.chat.completions.create(ask('gone'), { signal: abort.signal }).catch((err: Error) => err);
    await waitFor(async () => (await nv(box.env)).waiters.normal === 1, 10_000, 50);
    abort.abort();
    expect(await gone).toBeInstanceOf(Error);
    const abortedAt = Date.now();
    await waitFor(async () => (await nv(box.env)).waiters.normal === 0, 10_000, 20);
    // Well inside the 1.5 s waiter lease: it left, it was not waited out.
    expect(Date.now() - abortedAt).toBeLessThan(1500);
    const next = await client.chat.completions.create(ask('next'));
    expect(next.choices[0]!.message.content).toBe('ok m');
    await new Promise((r) => setTimeout(r, 500));
    expect(upstream.requests.map((r) => r.body.messages[0].content)).toEqual(['first', 'next']);
    expect((await nv(box.env)).counters.admitted).toBe(2);
  });

  it('answers 429 with Retry-After once the retry budget is spent, and then holds back without calling upstream', async () => {
    upstream = await startUpstream({ limit: 1, windowMs: 60_000, retryAfterS: 30 });
    const box = sandbox({ NV_KEY: key });
    box.writeConfig({ ...gatewayConfig(upstream.url, 10, '60s'), proxy: { retryFor: '1s' } });
    const proxy = await startProxyProcess(box.env);
    const client = sdk(proxy);
    await client.chat.completions.create(ask('one'));
    const refused = await client.chat.completions.create(ask('two')).catch((err) => err);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
    expect(upstream.requests).toHaveLength(2);
    // The block holds every request back (no provider call); past the budget the proxy answers 429.
    const held = await client.chat.completions.create(ask('three')).catch((err) => err);
    expect(held.status).toBe(429);
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(upstream.requests).toHaveLength(2);
    expect((await nv(box.env)).blockedUntil).not.toBeNull();
  });

  it("the proxy's own refusals: 404 for an unknown gateway or one without baseUrl, 413 past the body cap, 400 for a bad priority, never 401/403", async () => {
    upstream = await startUpstream();
    const box = sandbox({ NV_KEY: key });
    box.writeConfig({ gateways: { ...gatewayConfig(upstream.url, 10, '60s').gateways, bare: { match: ['bare'], limit: 5 } }, proxy: { maxBodyBytes: 1000 } });
    const proxy = await startProxyProcess(box.env);
    const post = (path: string, body: string | ReadableStream, headers: Record<string, string> = {}) =>
      fetch(`${proxy.url}${path}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
        ...(typeof body === 'string' ? {} : { duplex: 'half' }),
      } as RequestInit);
    const small = JSON.stringify(ask('hi'));
    const big = JSON.stringify(ask('x'.repeat(2000)));
    const answers = {
      unknown: await post('/nope/v1/chat/completions', small),
      bare: await post('/bare/v1/chat/completions', small),
      noRoute: await post('/chat/completions', small),
      tooBig: await post('/nv/v1/chat/completions', big),
      tooBigChunked: await post('/nv/v1/chat/completions', new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) })),
      badPriority: await post('/nv/v1/chat/completions', small, { 'x-claw-priority': 'asap' }),
    };
    const statuses = Object.fromEntries(await Promise.all(Object.entries(answers).map(async ([name, r]) => [name, [r.status, (await r.json()).error.code]])));
    expect(statuses).toEqual({
      unknown: [404, 'no_such_gateway'],
      bare: [404, 'no_base_url'],
      noRoute: [404, 'no_route'],
      tooBig: [413, 'body_too_large'],
      tooBigChunked: [413, 'body_too_large'],
      badPriority: [400, 'bad_priority'],
    });
    expect(upstream.requests).toHaveLength(0);
    const ok = await post('/nv/v1/chat/completions', small, { 'x-claw-priority': 'high' });
    expect(ok.status).toBe(200);
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
  });

  it('replaces the Authorization with the gateway key, passes the client one on without a key, and never prints either', async () => {
    upstream = await startUpstream();
    const box = sandbox({ NV_KEY: key });
    box.writeConfig({
      gateways: { nv: { match: ['nv'], baseUrl: upstream.url, apiKeyEnv: 'NV_KEY' }, open: { match: ['open'], baseUrl: upstream.url, apiKeyEnv: 'OPEN_KEY' } },
    });
    const proxy = await startProxyProcess(box.env);
    await sdk(proxy).chat.completions.create(ask('a'));
    await sdk(proxy, {}, 'open').chat.completions.create(ask('b'));
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${key}`, `Bearer ${clientKey}`]);
    // A provider that echoes the key back in an error: the client sees it redacted.
    upstream.quota = { status: 400, body: { error: { message: `bad request from ${key}` } } };
    const echoed = await sdk(proxy)
      .chat.completions.create(ask('c'))
      .catch((err) => err);
    expect(echoed.status).toBe(400);
    expect(echoed.message).toContain('[redacted]');
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    const status = await runClaw(['status', '--json'], box.env);
    expect(await proxy.stop()).toBe(0);
    expectNoKeys(proxy.stdout(), proxy.stderr(), metrics, status.stdout, status.stderr, echoed.message);
  });

  it('clients and a provider that go away mid-body or mid-stream cost the proxy nothing: it goes on serving', async () => {
    upstream = await startUpstream({ chunks: 20, chunkDelayMs: 100 });
    const box = sandbox({ NV_KEY: key });
    box.writeConfig(gatewayConfig(upstream.url, undefined, '60s'));
    const proxy = await startProxyProcess(box.env);
    const { port } = new URL(proxy.url);
    // A client that announces 10 KB, sends 100 bytes and hangs up.
    const { connect } = await import('node:net');
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('POST /nv/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n' + '{'.repeat(100));
        setTimeout(() => socket.destroy(), 200);
      });
      socket.on('close', () => resolve());
    });
    // A client that reads two chunks of a stream and aborts.
    const abort = new AbortController();
    const stream = await sdk(proxy).chat.completions.create({ ...ask('cut short'), stream: true }, { signal: abort.signal });
    let seen = 0;
    try {
      for await (const _ of stream) if (++seen === 2) abort.abort();
    } catch {
      // the abort
    }
    // The provider's stream is cut too (it stops writing long before its 20 chunks).
    await new Promise((r) => setTimeout(r, 500));
    expect(upstream.lastChunkAt).toHaveLength(0);
    const after = await sdk(proxy).chat.completions.create(ask('still there'));
    expect(after.choices[0]!.message.content).toBe('ok m');
    expect(await proxy.stop()).toBe(0);
    expect(proxy.stderr()).not.toContain('internal error');
  });

  it('a provider that hangs up mid-stream: the client sees the stream end in an error, and the proxy goes on', async () => {
    upstream = await startUpstream({ chunks: 5, chunkDelayMs: 50, dropAfterChunks: 2 });
    const box = sandbox({ NV_KEY: key });
    box.writeConfig(gatewayConfig(upstream.url, undefined, '60s'));
    const proxy = await startProxyProcess(box.env);
    const stream = await sdk(proxy).chat.completions.create({ ...ask('dropped'), stream: true });
    let text = '';
    const outcome = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      return 'ended';
    })().catch(() => 'error');
    expect(text).toBe('part0 part1 ');
    expect(outcome).toBe('error');
    const health = await (await fetch(`${proxy.url}/healthz`)).json();
    expect(health).toMatchObject({ ok: true, inFlight: 0 });
    expect(await proxy.stop()).toBe(0);
  });

  it('refuses bad proxy settings with the reason (exit 78)', async () => {
    const box = sandbox();
    const refused = await Promise.all([
      runClaw(['config', 'set', 'proxy.retryFor', 'soon'], box.env),
      runClaw(['config', 'set', 'proxy.priority', 'asap'], box.env),
      runClaw(['config', 'set', 'proxy.maxBodyBytes', '0'], box.env),
      runClaw(['config', 'set', 'gateways.nvidia.proxied', 'yes'], box.env),
      runClaw(['config', 'set', 'gateways.nvidia.quotaBlock', 'forever'], box.env),
    ]);
    expect(refused.map((r) => r.code)).toEqual([78, 78, 78, 78, 78]);
    expect(refused.map((r) => r.stderr)).toEqual([
      'claw: refused: proxy.retryFor: "soon" is not a duration (use 500ms, 2s, 10m, 1h or seconds)\n',
      'claw: refused: proxy.priority: "asap" is not a priority (urgent, high, normal or low)\n',
      'claw: refused: proxy.maxBodyBytes must be a whole number of bytes >= 1, got 0\n',
      'claw: refused: gateways.nvidia: "proxied" must be true or false, got "yes"\n',
      'claw: refused: gateways.nvidia: "quotaBlock" must be a duration from 1s to 744h (500ms, 2s, 10m, 1h or seconds), got "forever"\n',
    ]);
    for (const [path, value] of [
      ['proxy.retryFor', '30s'],
      ['proxy.priority', 'high'],
      ['gateways.nvidia.proxied', 'true'],
      ['gateways.nvidia.quotaBlock', '2h'],
    ]) {
      expect((await runClaw(['config', 'set', path!, value!], box.env)).code).toBe(0);
    }
  });

  it('on SIGTERM: a request in flight finishes, a queued one leaves the queue with a 503, exit 0', async () => {
    upstream = await startUpstream({ chunks: 8, chunkDelayMs: 200 });
    const box = sandbox({ NV_KEY: key });
    box.writeConfig(gatewayConfig(upstream.url, 1, '10s'));
    const proxy = await startProxyProcess(box.env);
    const client = sdk(proxy);
    const stream = await client.chat.completions.create({ ...ask('long'), stream: true });
    const reading = (async () => {
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      return text;
    })();
    const queued = client.chat.completions.create(ask('queued')).catch((err) => err);
    const order: string[] = [];
    void queued.then(() => order.push('queued answered'));
    void reading.then(() => order.push('stream done'));
    await waitFor(async () => (await nv(box.env)).waiters.normal === 1, 10_000, 50);
    const exit = proxy.stop('SIGTERM');
    expect((await queued).status).toBe(503);
    expect(await reading).toBe('part0 part1 part2 part3 part4 part5 part6 part7 ');
    // The queued request was let go at once, not after the in-flight one (or the grace) ran out.
    expect(order).toEqual(['queued answered', 'stream done']);
    expect(await exit).toBe(0);
    const gateway = await nv(box.env);
    expect(gateway.waiters.normal).toBe(0);
    expect(gateway.counters.admitted).toBe(1);
    expect(upstream.requests).toHaveLength(1);
  });
});
