// npm run bench, the proxy part: the latency `claw proxy` adds (p50/p95, one request at a time)
// against calling the provider directly, and its throughput with an unlimited gateway (16 requests
// in flight), as ratios measured in this one run. The provider is a child process on 127.0.0.1
// answering a ~58 KB chat-completions request (the size of an OpenClaw turn) with a small JSON reply.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const providerSource = `
const { createServer } = require('node:http');
const reply = JSON.stringify({ id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 100, completion_tokens: 2, total_tokens: 102 } });
const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) }); res.end(reply); });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function firstLine(child, pattern) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing its address`)));
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: 'Bearer bench' } },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function latencies(url, body, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 20; i++) await post(agent, url, body);
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await post(agent, url, body);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  agent.destroy();
  return times.sort((a, b) => a - b);
}

async function throughput(url, body, inFlight, durationMs) {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  let done = 0;
  const end = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        await post(agent, url, body);
        done++;
      }
    }),
  );
  agent.destroy();
  return Math.round(done / (durationMs / 1000));
}

/** Runs the proxy measurements and prints them; returns the figures. */
export async function benchProxy(root) {
  const work = mkdtempSync(join(tmpdir(), 'claw-bench-proxy-'));
  const provider = spawn(process.execPath, ['-e', providerSource], { stdio: ['ignore', 'pipe', 'inherit'] });
  const children = [provider];
  try {
    const port = await firstLine(provider, /^(\d+)\n/);
    const upstream = `http://127.0.0.1:${port}/v1`;
    const configDir = join(work, 'config');
    mkdirSync(configDir, { recursive: true });
    // Unlimited: the proxy's own cost (routing, the store's admission count, forwarding, usage) is what is measured.
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ gateways: { bench: { match: ['bench'], baseUrl: upstream } } }));
    const env = { PATH: process.env.PATH, HOME: work, CLAW_STATE_DIR: join(work, 'state'), CLAW_CONFIG_DIR: configDir };
    const proxy = spawn(process.execPath, [join(root, 'bin', 'claw'), 'proxy', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(proxy);
    const proxyUrl = `${await firstLine(proxy, /^claw proxy listening on (\S+)\n/)}/bench/v1/chat/completions`;
    const directUrl = `${upstream}/chat/completions`;
    const body = Buffer.from(
      JSON.stringify({
        model: 'm',
        stream: false,
        messages: [
          { role: 'system', content: 'x'.repeat(58_000) },
          { role: 'user', content: 'hi' },
        ],
      }),
    );

    const direct = await latencies(directUrl, body, 300);
    const viaProxy = await latencies(proxyUrl, body, 300);
    const directRps = await throughput(directUrl, body, 16, 3000);
    const proxyRps = await throughput(proxyUrl, body, 16, 3000);
    const result = {
      latencyMs: {
        direct: { p50: quantile(direct, 0.5), p95: quantile(direct, 0.95) },
        proxy: { p50: quantile(viaProxy, 0.5), p95: quantile(viaProxy, 0.95) },
      },
      throughput: { direct: directRps, proxy: proxyRps },
    };
    const f = (n) => n.toFixed(2);
    const l = result.latencyMs;
    console.log(
      `  claw proxy latency         direct p50 ${f(l.direct.p50)} ms p95 ${f(l.direct.p95)} ms; via proxy p50 ${f(l.proxy.p50)} ms p95 ${f(l.proxy.p95)} ms ` +
        `(added p50 ${f(l.proxy.p50 - l.direct.p50)} ms = ${f(l.proxy.p50 / l.direct.p50)}x, p95 ${f(l.proxy.p95 / l.direct.p95)}x)`,
    );
    console.log(`  claw proxy throughput      unlimited gateway, 16 in flight: direct ${directRps}/s, via proxy ${proxyRps}/s = ${f(proxyRps / directRps)}x`);
    console.log(JSON.stringify({ proxy: result }));
    return result;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(work, { recursive: true, force: true });
  }
}

// `node bench/proxy.mjs` runs this part alone (after `npm run build`).
if (import.meta.url === `file://${process.argv[1]}`) await benchProxy(new URL('..', import.meta.url).pathname);
