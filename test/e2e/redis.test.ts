// What only the Redis store has to show: hosts that share one limit, a server restart, and an
// unreachable server.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busiestWindow, finished, logStart, readStarts, runClaw, sandbox, startClaw, statusJson, timingStores } from '../helpers/claw';
import { freePort, redisServer, type RedisServer } from '../helpers/redis';

const servers: RedisServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

const startTimes = (log: string) => readStarts(log).map((s) => s.at);

describe.runIf(timingStores.includes('redis'))('the Redis store', () => {
  it('two hosts with separate state dirs and clocks minutes apart share one limit in every rolling window', async () => {
    const hostA = sandbox({}, 'redis');
    const prefix = JSON.parse(readFileSync(join(hostA.configDir, 'config.json'), 'utf8')).storePrefix;
    const hostB = sandbox({ CLAW_CLOCK_OFFSET_MS: String(-7 * 60_000) }, 'redis');
    const config = { storePrefix: prefix, gateways: { t: { limit: 5, window: '2s' } } };
    hostA.writeConfig(config);
    hostB.writeConfig(config);
    const log = join(hostA.root, 'starts.log');
    const runs = Array.from({ length: 20 }, (_, i) => {
      const host = i % 2 === 0 ? hostA : hostB;
      return finished(startClaw(['call', '--gateway', 't', '--', ...logStart(log, i % 2 === 0 ? 'a' : 'b')], host.env));
    });
    const results = await Promise.all(runs);
    expect(results.map((r) => r.code)).toEqual(Array(20).fill(0));
    const times = startTimes(log);
    expect(times).toHaveLength(20);
    expect(busiestWindow(times, 2000)).toBeLessThanOrEqual(5);
    const t = (await statusJson(hostB.env)).gateways.find((g: any) => g.name === 't');
    expect(t.counters.admitted).toBe(20);
  });

  it('a Redis restart mid-run: waiting processes report it, nothing is admitted twice, and work resumes', async () => {
    const server = await redisServer({ password: 's3cret-pw' });
    servers.push(server);
    const box = sandbox({ CLAW_STORE: server.url }, 'redis');
    box.writeConfig({ gateways: { t: { limit: 2, window: '2s' } } });
    const log = join(box.root, 'starts.log');
    const children = Array.from({ length: 10 }, () => startClaw(['call', '--gateway', 't', '--', ...logStart(log)], box.env));
    const results = Promise.all(children.map(finished));
    await new Promise((r) => setTimeout(r, 3000));
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await server.start();
    const done = await results;
    expect(done.map((r) => r.code)).toEqual(Array(10).fill(0));
    expect(done.some((r) => /lost the Redis store at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ .*; waiting for it to come back/.test(r.stderr))).toBe(true);
    for (const r of done) expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
    const times = startTimes(log);
    expect(times).toHaveLength(10);
    expect(busiestWindow(times, 2000)).toBeLessThanOrEqual(2);
    const status = await statusJson(box.env);
    expect(status.store.location).toMatch(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(prefix claw-test:/);
    expect(JSON.stringify(status)).not.toContain('s3cret-pw');
    expect(status.gateways.find((g: any) => g.name === 't').counters.admitted).toBe(10);
  });

  it('an unreachable Redis: one line, exit 69, password redacted; with storeFallback local the host goes on alone', async () => {
    const port = await freePort();
    const url = `redis://claw:hunter2-pw@127.0.0.1:${port}/0`;
    const box = sandbox({ CLAW_STORE: url }, 'redis');
    const down = await runClaw(['call', '--gateway', 'nvidia', '--', 'true'], box.env);
    expect(down.code).toBe(69);
    expect(down.stderr).toBe(
      `claw: cannot reach the Redis store at redis://claw:***@127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}; start Redis or set \`claw config set storeFallback local\`\n`,
    );
    box.writeConfig({ storeFallback: 'local' });
    const local = await runClaw(['call', '--gateway', 'nvidia', '--', 'true'], box.env);
    expect(local.code).toBe(0);
    expect(local.stderr).toMatch(
      /^claw: cannot reach the Redis store at redis:\/\/claw:\*\*\*@.*; using the local store \(limits hold for this host only\)\n$/,
    );
    const status = JSON.parse((await runClaw(['status', '--json'], box.env)).stdout);
    expect(status.store).toMatchObject({
      kind: 'sqlite',
      note: `fallback: redis://claw:***@127.0.0.1:${port}/0 was unreachable, so limits hold for this host only`,
    });
    expect(JSON.stringify(status)).not.toContain('hunter2-pw');
  });
});
