// Retry-After and blocks (issue 11, item 3): any Retry-After blocks a gateway for at most its
// ceiling, --max-wait bounds the whole call, status shows who blocked it, `claw unblock` clears it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finished, runClaw, sandbox, startClaw, statusJson, timingStores, type Result } from '../helpers/claw';

const key = 'sk-test-SECRET-0123456789';
const tenMinutes = 600_000;

/** A chat server that answers 429 (with `retryAfter`, when given) `rejections` times, then 200. */
async function limitedServer(retryAfter: string | undefined, rejections = Infinity) {
  const arrivals: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(Date.now());
      if (arrivals.length <= rejections) {
        res.writeHead(429, { 'content-type': 'application/json', ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}) });
        res.end(JSON.stringify({ error: { message: `Too Many Requests for key ${key}` } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'ok' } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { url, arrivals, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** Runs claw, killing it after `limitMs` (so a call that would sleep for a day fails the test instead). */
async function runWithin(args: string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<Result & { ms: number }> {
  const began = Date.now();
  const child = startClaw(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const result = await finished(child);
  clearTimeout(timer);
  return { ...result, ms: Date.now() - began };
}

function gatewayConfig(url: string, extra: Record<string, unknown> = {}) {
  return { gateways: { nv: { match: ['nv'], limit: 100, window: '1s', baseUrl: url, apiKeyEnv: 'NV_KEY', ...extra } } };
}

describe.each(timingStores)('Retry-After and blocks (%s store)', (store) => {
  for (const retryAfter of ['99999999999999999999', '86400', 'Thu, 01 Jan 2099 00:00:00 GMT']) {
    it(`Retry-After ${retryAfter}: blocked for at most 10 min, --max-wait honoured, status shows the origin, claw unblock clears it`, async () => {
      const server = await limitedServer(retryAfter);
      close = server.close;
      const box = sandbox({ NV_KEY: key }, store);
      box.writeConfig(gatewayConfig(server.url));
      const call = await runWithin(['call', '--model', 'nv/m', '--prompt', 'hi', '--retries', '1', '--max-wait', '3s', '--backoff-cap', '1s'], box.env, 20_000);
      expect(call.code).toBe(75);
      expect(call.ms).toBeLessThan(10_000);
      expect(call.stderr.trim().split('\n')).toHaveLength(1);
      expect(call.stderr).toMatch(/^claw: gave up: nv is blocked until \d{4}-\d\d-\d\dT[\d:.]+Z \(in (9\.\d|10)m: 429 from nv via claw call \(pid \d+/);
      expect(call.stderr).toContain('claw unblock nv');
      expect(call.stdout + call.stderr).not.toContain(key);
      // One request reached the server: the retry saw the block and gave up without sending.
      expect(server.arrivals).toHaveLength(1);

      for (const form of [['status'], ['status', '--json'], ['status', '--prometheus']]) {
        const status = await runClaw(form, box.env);
        expect(status.stderr).toBe('');
        expect(status.code).toBe(0);
      }
      const text = (await runClaw(['status'], box.env)).stdout;
      expect(text).toMatch(/blocked: nv until .* left, rate limited\) by 429 from nv via claw call \(pid \d+/);
      expect(text).not.toContain(key);
      const nv = (await statusJson(box.env)).gateways.find((g: any) => g.name === 'nv');
      const left = Date.parse(nv.block.until) - Date.now();
      expect(left).toBeGreaterThan(tenMinutes - 60_000);
      expect(left).toBeLessThanOrEqual(tenMinutes);
      expect(nv.blockedUntil).toBe(nv.block.until);
      expect(nv.block).toMatchObject({ reason: 'rate_limited', origin: expect.stringMatching(/^429 from nv via claw call \(pid \d+, host .+\)$/) });
      expect(nv.block.message).toMatch(/^Too Many Requests for key \[redacted\]; Retry-After (.+) cut to 10m$/);
      expect(JSON.stringify(nv)).not.toContain(key);

      const cleared = await runClaw(['unblock', 'nv'], box.env);
      expect(cleared).toMatchObject({ code: 0, stderr: '' });
      expect(cleared.stdout).toMatch(/^nv: block cleared \(it ran until .*Z; set by 429 from nv via claw call/);
      expect((await statusJson(box.env)).gateways.find((g: any) => g.name === 'nv')).toMatchObject({ block: null, blockedUntil: null });
      expect(JSON.parse((await runClaw(['unblock', 'nv', '--json'], box.env)).stdout)).toEqual({ ok: true, gateway: 'nv', cleared: false, block: null });
    });
  }

  it('a Retry-After within the ceiling is honoured by every process, then the call succeeds; the ceiling is configurable', async () => {
    const server = await limitedServer('2', 1);
    close = server.close;
    const box = sandbox({ NV_KEY: key }, store);
    box.writeConfig(gatewayConfig(server.url, { maxRetryAfter: '1s' }));
    const first = startClaw(['call', '--model', 'nv/m', '--prompt', 'hi', '--retries', '2', '--backoff-base', '10ms'], box.env);
    // A second process started while the gateway is blocked waits for the block too.
    const { waitFor } = await import('../helpers/claw');
    await waitFor(() => server.arrivals.length === 1);
    const second = startClaw(['call', '--model', 'nv/m', '--prompt', 'hi', '--retries', '0'], box.env);
    const results = await Promise.all([finished(first), finished(second)]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(server.arrivals).toHaveLength(3);
    // Retry-After 2 was cut to the configured 1s: both later requests came at least ~1 s after the 429, well before 2 s.
    for (const at of server.arrivals.slice(1)) {
      expect(at - server.arrivals[0]!).toBeGreaterThanOrEqual(900);
      expect(at - server.arrivals[0]!).toBeLessThan(1900);
    }
  });

  it('claw unblock: a provider id finds its gateway, an unknown name is exit 64 (JSON too)', async () => {
    const box = sandbox({}, store);
    box.writeConfig({ gateways: { t: { match: ['t-*'], limit: 1, window: '1s' } } });
    expect(await runClaw(['unblock', 't-eu'], box.env)).toMatchObject({ code: 0, stdout: 't: not blocked; nothing to clear\n' });
    const unknown = await runClaw(['unblock', 'nope'], box.env);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/^claw: unknown gateway "nope": not configured and never seen by the store \(known: .*\bt\b.*\)\n$/);
    const json = await runClaw(['unblock', 'nope', '--json'], box.env);
    expect(json.code).toBe(64);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { type: 'usage_error', exitCode: 64 } });
    expect((await runClaw(['unblock', '--help'], box.env)).stdout).toContain('claw unblock nvidia');
  });

  it.runIf(store === 'sqlite')(
    'a store written by an older claw with absurd values (clock 1e20, block 1e23, an admission at 1e20) reads, heals and unblocks',
    async () => {
      const box = sandbox({}, store);
      box.writeConfig({ gateways: { t: { limit: 1, window: '2s' } } });
      mkdirSync(box.stateDir, { recursive: true });
      const Database = createRequire(__filename)('../helpers/sqlite-db.cjs');
      const db = new Database(join(box.stateDir, 'claw.db'));
      db.pragma('journal_mode = WAL');
      db.exec(`
      create table meta (key text primary key, value integer not null);
      create table admissions (id text primary key, gateway text not null, at integer not null, priority integer not null);
      create index admissions_by_gateway on admissions (gateway, at);
      create table waiters (seq integer primary key autoincrement, id text not null unique, gateway text not null, priority integer not null, lease_until integer not null, pid integer);
      create table blocks (gateway text primary key, until integer not null);
      create table counters (scope text not null, name text not null, value integer not null, primary key (scope, name));
      create table cache (key text primary key, category text not null, value text not null, stored_at integer not null, expires_at integer not null, keep_until integer not null);
      create table leases (name text primary key, owner text not null, expires_at integer not null);
      create table state (key text primary key, value text not null);
      create table runs (id integer primary key autoincrement, agent text not null, started_at integer not null, ended_at integer not null, outcome text not null, detail text not null);
      insert into meta values ('clock_high', 1e20);
      insert into blocks values ('t', 1e23);
      insert into admissions values ('old', 't', 1e20, 3);
      pragma user_version = 1;
    `);
      db.close();
      for (const form of [['status'], ['status', '--json'], ['status', '--prometheus']])
        expect(await runClaw(form, box.env)).toMatchObject({ code: 0, stderr: '' });
      const t = (await statusJson(box.env)).gateways.find((g: any) => g.name === 't');
      expect(t.block.origin).toBe('set by an older claw (no origin recorded)');
      expect(Date.parse(t.block.until) - Date.now()).toBeLessThanOrEqual(tenMinutes);
      expect((await runClaw(['unblock', 't'], box.env)).stdout).toMatch(/^t: block cleared/);
      // The admission stamped 1e20 counts for one window at most: the call gets through within it.
      const call = await runWithin(['call', '--gateway', 't', '--max-wait', '4s', '--', 'true'], box.env, 20_000);
      expect(call).toMatchObject({ code: 0, stderr: '' });
      expect(call.ms).toBeLessThan(4000);
    },
  );
});
