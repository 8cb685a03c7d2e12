// The HTTP form against a real server on 127.0.0.1 that enforces its own rolling window.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { finished, runClaw, sandbox, startClaw, statusJson, timingStores } from '../helpers/claw';
import { startGateway, type FakeGateway } from '../helpers/gateway-server';

const key = 'sk-test-SECRET-0123456789';
let server: FakeGateway | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function configFor(url: string, limit: number, windowS: number) {
  return { gateways: { nv: { match: ['nv'], limit, window: `${windowS}s`, baseUrl: url, apiKeyEnv: 'NV_KEY' } } };
}

describe.each(timingStores)('claw call --prompt against a real server (%s store)', (store) => {
  it('makes zero 429s when its limit matches the server', async () => {
    server = await startGateway(4, 2000);
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig(configFor(server.url, 4, 2));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => finished(startClaw(['call', '--model', 'nv/deepseek-ai/deepseek-v4-pro', '--prompt', `hello ${i}`], box.env))),
    );
    expect(results.map((r) => r.code)).toEqual(Array(12).fill(0));
    expect(results.every((r) => r.stdout === 'ok deepseek-ai/deepseek-v4-pro\n')).toBe(true);
    expect(server.rejected).toHaveLength(0);
    expect(server.accepted).toHaveLength(12);
    expect([...server.authorizations]).toEqual([`Bearer ${key}`]);
    for (const r of results) expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('when the server is stricter, every process honours its 429 and every call still succeeds', async () => {
    server = await startGateway(2, 2000);
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig(configFor(server.url, 4, 2));
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        finished(startClaw(['call', '--model', 'nv/m', '--prompt', 'hi', '--retries', '8', '--backoff-base', '200ms', '--backoff-cap', '2s'], box.env)),
      ),
    );
    expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));
    expect(server.accepted).toHaveLength(8);
    expect(server.rejected.length).toBeGreaterThan(0);
    expect(server.ignoredRetryAfter).toBe(0);
    const nv = (await statusJson(box.env)).gateways.find((g: any) => g.name === 'nv');
    expect(nv.counters.rateLimited).toBe(server.rejected.length);
    expect(nv.counters.admitted).toBe(8 + server.rejected.length);
  });

  it('prints the whole response with --json, reads the prompt from stdin and sends --body as given', async () => {
    server = await startGateway(10, 1000);
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig(configFor(server.url, 10, 1));
    const viaStdin = await runClaw(['call', '--model', 'nv/m1', '--prompt', '-', '--json'], box.env, 'from stdin');
    expect(viaStdin.code).toBe(0);
    expect(JSON.parse(viaStdin.stdout).choices[0].message.content).toBe('ok m1');
    const bodyFile = join(box.root, 'body.json');
    writeFileSync(bodyFile, JSON.stringify({ model: 'as-given', messages: [{ role: 'user', content: 'x' }], temperature: 0 }));
    const viaBody = await runClaw(['call', '--model', 'nv/other', '--body', bodyFile], box.env);
    expect(viaBody).toMatchObject({ code: 0, stdout: 'ok as-given\n' });
  });

  it('gives clear one-line errors for a missing key, an unreachable server and a timeout, without leaking the key', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { nv: { match: ['nv'], limit: 5, window: '1s', baseUrl: `http://127.0.0.1:${closedPort}/v1`, apiKeyEnv: 'NV_KEY' } } });
    const missing = await runClaw(['call', '--model', 'nv/m', '--prompt', 'hi'], box.env);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toBe('claw: NV_KEY is not set: export it with the API key for gateway nv (or set gateways.nv.apiKeyEnv)\n');
    const down = await runClaw(['call', '--model', 'nv/m', '--prompt', 'hi'], { ...box.env, NV_KEY: key });
    expect(down.code).toBe(69);
    expect(down.stderr).toBe(
      `claw: cannot reach http://127.0.0.1:${closedPort}/v1/chat/completions: ECONNREFUSED; check the network and the gateway's baseUrl\n`,
    );

    // A server that accepts the connection and never answers.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as AddressInfo).port;
    box.writeConfig({ gateways: { nv: { match: ['nv'], limit: 5, window: '1s', baseUrl: `http://127.0.0.1:${silentPort}/v1`, apiKeyEnv: 'NV_KEY' } } });
    const slow = await runClaw(['call', '--model', 'nv/m', '--prompt', 'hi', '--timeout', '500ms'], { ...box.env, NV_KEY: key });
    silent.close();
    expect(slow.code).toBe(75);
    expect(slow.stderr).toBe(`claw: no answer from http://127.0.0.1:${silentPort}/v1/chat/completions within 500ms; raise --timeout or try again later\n`);
    for (const r of [missing, down, slow]) expect(r.stdout + r.stderr).not.toContain(key);
  });
});
