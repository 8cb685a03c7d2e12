// `claw proxy`: an OpenAI-style gateway on 127.0.0.1 that admits every upstream request through
// the shared store, exactly like `claw call`, so agents' own model requests share one limit with
// every cron-started claw process. Bodies stream both ways; SSE replies pass through unbuffered.
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseDuration, formatDuration } from '../duration.js';
import { parsePriority, priorityName, type PriorityRank } from '../priority.js';
import { gatewayConfigs, type ClawConfig } from '../config/config.js';
import { backoffDelay, defaultBackoff } from '../limiter/backoff.js';
import { findGateway, toGateway, type Gateway } from '../limiter/gateways.js';
import { acquire, startWindow, type Admission, type GaveUp } from '../limiter/limiter.js';
import type { Store } from '../store/types.js';
import { currentBlock, quotaBlock, recordBlock, type Block } from './blocks.js';
import { formatMetrics, ProxyStats, type GatewayView } from './metrics.js';
import { classifyAnswer, quotaReplyBody } from './quota.js';
import { tokenUsage, usageCounters, usageScanner, type Usage } from './usage.js';

export const defaultRetryForMs = 120_000;
export const defaultQuotaBlockMs = 3_600_000;
export const defaultMaxBodyBytes = 16 * 1024 * 1024;
/** Error bodies are read whole to classify them; past this they are cut. */
const errorBodyCap = 1024 * 1024;

export interface ProxyOptions {
  host: string;
  port: number;
  store: Store;
  /** The current config (re-read when the file changes). */
  config: () => ClawConfig;
  env: NodeJS.ProcessEnv;
  clock: () => number;
  /** One line of log (stderr); never given a secret. */
  log: (line: string) => void;
  /** The roster priority of an agent named in x-claw-agent, if it is known. */
  agentPriority?: (agent: string) => Promise<PriorityRank | undefined>;
  /** Who sets blocks, e.g. `proxy@host:pid`. */
  origin: string;
}

export interface RunningProxy {
  url: string;
  stats: ProxyStats;
  /** Stop accepting, release queued requests, let upstream ones finish within `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
}

/** Why a request stopped waiting. */
class Stop {
  constructor(
    readonly why: 'client-gone' | 'too-large' | 'shutting-down' | 'quota',
    readonly block?: Block,
  ) {}
}

interface Exchange {
  stop: AbortController;
  phase: 'queued' | 'upstream' | 'other';
  /** Cuts the upstream request (the client went away or the proxy is stopping). */
  cut?: () => void;
}

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'accept-encoding',
]);

function upstreamHeaders(incoming: IncomingHttpHeaders, key: string | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || hopByHop.has(name) || name.startsWith('x-claw-')) continue;
    headers[name] = value;
  }
  // Identity encoding: usage is read from the reply as it passes.
  headers['accept-encoding'] = 'identity';
  if (key) headers.authorization = `Bearer ${key}`;
  return headers;
}

function replyHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || (hopByHop.has(name) && name !== 'accept-encoding')) continue;
    headers[name] = value;
  }
  return headers;
}

/** Hides every secret anywhere it might be echoed back. */
function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}

/** The client's body, read as it arrives, kept for a retry, and written to each upstream attempt. */
class RequestBody {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private target: { write(chunk: Buffer): unknown; end(): unknown } | undefined;

  constructor(req: IncomingMessage, cap: number, onTooLarge: () => void) {
    req.on('data', (chunk: Buffer) => {
      this.size += chunk.length;
      if (this.size > cap) {
        this.chunks.length = 0;
        req.pause();
        onTooLarge();
        return;
      }
      this.chunks.push(chunk);
      this.target?.write(chunk);
    });
    req.on('end', () => {
      this.ended = true;
      this.target?.end();
    });
    // A client that hangs up mid-body: `res` closes too, which stops the exchange.
    req.on('error', () => undefined);
  }

  /** Writes what has arrived, then the rest as it arrives. */
  pipeTo(target: { write(chunk: Buffer): unknown; end(): unknown }): void {
    this.target = target;
    for (const chunk of this.chunks) target.write(chunk);
    if (this.ended) target.end();
  }

  detach(): void {
    this.target = undefined;
  }
}

function abortableSleep(signal: AbortSignal) {
  return (ms: number) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
    });
}

type Forwarded =
  | { kind: 'passed'; usage?: Usage }
  | { kind: 'error'; status: number; headers: IncomingHttpHeaders; body: string }
  | { kind: 'unreachable'; code: string }
  | { kind: 'cut' };

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const { store, clock, log } = options;
  const stats = new ProxyStats();
  const exchanges = new Set<Exchange>();
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  let closing = false;
  const served = new Set<string>();
  const unkeyed = new Set<string>();

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...(closing ? { connection: 'close' } : {}),
      ...headers,
    });
    res.end(text);
  };
  /** The proxy's own refusals: never 401 or 403 (OpenClaw cools a key down for a minute after a 401). */
  const refuse = (res: ServerResponse, status: 400 | 404 | 405 | 413 | 429 | 502 | 503, code: string, message: string, headers: OutgoingHttpHeaders = {}) =>
    sendJson(res, status, { error: { message: `claw proxy: ${message}`, type: 'claw_proxy', param: null, code } }, headers);

  async function metrics(res: ServerResponse): Promise<void> {
    const config = options.config();
    const configs = gatewayConfigs(config);
    const names = new Set([...served, ...(await store.knownGateways())]);
    const views: GatewayView[] = [];
    for (const name of names) {
      const found = findGateway(configs, name);
      const gateway = toGateway(name, found?.[0] === name ? found[1] : undefined);
      const [state, block] = await Promise.all([store.gatewayState(gateway), currentBlock(store, gateway)]);
      views.push({ name, tokens: tokenUsage(state.counters), used: state.used, limit: gateway.limited ? gateway.limit : null, ...(block ? { block } : {}) });
    }
    const text = formatMetrics(stats, views, await store.now());
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://claw-proxy');
    if (url.pathname === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      return sendJson(res, closing ? 503 : 200, { ok: !closing, inFlight: stats.inFlight, queued: stats.queued });
    }
    if (url.pathname === '/metrics' && req.method === 'GET') return metrics(res);
    if (closing) return refuse(res, 503, 'shutting_down', 'shutting down; retry shortly', { 'retry-after': '1' });
    const route = /^\/([^/]+)\/v1(\/.*)?$/.exec(url.pathname);
    if (!route) return refuse(res, 404, 'no_route', `no route for ${url.pathname}: use /<gateway>/v1/..., e.g. /nvidia/v1/chat/completions`);
    const config = options.config();
    let id: string;
    try {
      id = decodeURIComponent(route[1]!);
    } catch {
      return refuse(res, 404, 'no_such_gateway', `bad gateway name in ${url.pathname}`);
    }
    const found = findGateway(gatewayConfigs(config), id);
    if (!found) return refuse(res, 404, 'no_such_gateway', `no gateway "${id}": add one with \`claw config set gateways.${id}.baseUrl https://...\``);
    const gateway = toGateway(found[0], found[1]);
    if (!gateway.baseUrl)
      return refuse(
        res,
        404,
        'no_base_url',
        `gateway ${gateway.name} has no baseUrl: set it with \`claw config set gateways.${gateway.name}.baseUrl https://...\``,
      );

    const agentHeader = req.headers['x-claw-agent'];
    const agent = typeof agentHeader === 'string' && agentHeader !== '' ? agentHeader : undefined;
    if (agent !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(agent)) {
      return refuse(res, 400, 'bad_agent', `x-claw-agent "${agent.slice(0, 64)}" is not an agent id (letters, digits, . _ -)`);
    }
    const priorityHeader = req.headers['x-claw-priority'];
    let priority: PriorityRank | undefined;
    if (typeof priorityHeader === 'string' && priorityHeader !== '') {
      priority = parsePriority(priorityHeader);
      if (priority === undefined)
        return refuse(res, 400, 'bad_priority', `x-claw-priority "${priorityHeader.slice(0, 32)}" is not a priority: use urgent, high, normal or low (or 1-4)`);
    }
    if (priority === undefined && agent && options.agentPriority) priority = await options.agentPriority(agent).catch(() => undefined);
    priority ??= parsePriority(config.proxy?.priority ?? 'normal') ?? 3;

    const cap = config.proxy?.maxBodyBytes ?? defaultMaxBodyBytes;
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > cap)
      return refuse(res, 413, 'body_too_large', `request body of ${length} bytes is over the ${cap}-byte cap (proxy.maxBodyBytes)`, { connection: 'close' });

    served.add(gateway.name);
    const exchange: Exchange = { stop: new AbortController(), phase: 'other' };
    exchanges.add(exchange);
    stats.inFlight++;
    res.on('close', () => {
      exchanges.delete(exchange);
      stats.inFlight--;
      if (!res.writableFinished) {
        exchange.stop.abort(new Stop('client-gone'));
        exchange.cut?.();
      }
    });
    res.on('finish', () => stats.answered(gateway.name, res.statusCode));
    const body = new RequestBody(req, cap, () => {
      exchange.stop.abort(new Stop('too-large'));
      exchange.cut?.();
      refuse(res, 413, 'body_too_large', `request body is over the ${cap}-byte cap (proxy.maxBodyBytes)`, { connection: 'close' });
    });
    const key = gateway.apiKeyEnv ? options.env[gateway.apiKeyEnv] || undefined : undefined;
    if (gateway.apiKeyEnv && !key && !unkeyed.has(gateway.name)) {
      unkeyed.add(gateway.name);
      log(`claw proxy: ${gateway.apiKeyEnv} is not set: requests to ${gateway.name} carry the client's Authorization`);
    }
    const secrets = [key, typeof req.headers.authorization === 'string' ? req.headers.authorization.replace(/^Bearer\s+/i, '') : undefined];
    await exchangeLoop({ req, res, url, gateway, config, priority, agent, exchange, body, key, secrets });
  }

  interface Context {
    req: IncomingMessage;
    res: ServerResponse;
    url: URL;
    gateway: Gateway;
    config: ClawConfig;
    priority: PriorityRank;
    agent: string | undefined;
    exchange: Exchange;
    body: RequestBody;
    key: string | undefined;
    secrets: (string | undefined)[];
  }

  const answerQuota = (ctx: Context, block: Block) => {
    const stopped = (stats.refusedByBlock.get(ctx.gateway.name) ?? 0) + 1;
    stats.refusedByBlock.set(ctx.gateway.name, stopped);
    sendJson(ctx.res, 402, quotaReplyBody(ctx.gateway.name, block.until, block.message ?? 'You exceeded your current quota'));
  };

  async function exchangeLoop(ctx: Context): Promise<void> {
    const { res, gateway, exchange } = ctx;
    const signal = exchange.stop.signal;
    const started = clock();
    const retryForMs = parseDuration(ctx.config.proxy?.retryFor ?? '') ?? defaultRetryForMs;
    const deadline = started + retryForMs;
    const sleep = abortableSleep(signal);
    for (let attempt = 0; ; attempt++) {
      const block = await quotaBlock(store, gateway);
      if (block) return answerQuota(ctx, block);
      exchange.phase = 'queued';
      stats.queued++;
      let admission: Admission | GaveUp | undefined;
      let estimateMs = 1000;
      try {
        admission = await acquire(store, {
          gateway,
          priority: ctx.priority,
          maxWaitMs: Math.max(0, deadline - clock()),
          clock,
          sleep,
          signal,
          onWait: (progress) => {
            estimateMs = progress.estimateMs;
            // A quota block set by another process while this request waits: answer at once.
            if (progress.reason === 'blocked') {
              void currentBlock(store, gateway).then(
                (b) => {
                  if (b?.reason === 'quota' && !signal.aborted) exchange.stop.abort(new Stop('quota', b));
                },
                () => undefined,
              );
            }
          },
          onStoreError: (err) => log(`claw proxy: ${err.message}; waiting for it to come back`),
        });
      } catch (err) {
        if (!(err instanceof Stop)) throw err;
        return stopped(ctx, err);
      } finally {
        stats.queued--;
      }
      if (!admission || 'gaveUp' in admission) {
        await store.count(gateway.name, 'dropped').catch(() => undefined);
        const freeInMs = admission ? Math.max(estimateMs, admission.freeAt - admission.now) : estimateMs;
        const retryAfter = Math.max(1, Math.ceil(freeInMs / 1000));
        log(
          `claw proxy: ${gateway.name}: no slot within ${formatDuration(retryForMs)} (${priorityName(ctx.priority)}); answered 429, retry after ${retryAfter}s`,
        );
        return refuse(
          res,
          429,
          'rate_limited',
          `no slot on ${gateway.name} within ${formatDuration(retryForMs)} (proxy.retryFor); retry after ${retryAfter}s`,
          { 'retry-after': String(retryAfter) },
        );
      }
      if (signal.aborted) return stopped(ctx, signal.reason as Stop);
      exchange.phase = 'upstream';
      const result = await forward(ctx, admission);
      exchange.phase = 'other';
      if (result.kind === 'cut') return;
      if (result.kind === 'passed') {
        if (result.usage) {
          for (const [name, n] of usageCounters(result.usage, ctx.agent)) await store.count(gateway.name, name, n).catch(() => undefined);
        }
        return;
      }
      if (result.kind === 'unreachable') {
        log(`claw proxy: ${gateway.name}: cannot reach ${new URL(gateway.baseUrl!).origin}: ${result.code}`);
        return refuse(res, 502, 'upstream_unreachable', `cannot reach ${new URL(gateway.baseUrl!).origin} for gateway ${gateway.name}: ${result.code}`);
      }
      const now = await store.now();
      const retryAfterHeader = typeof result.headers['retry-after'] === 'string' ? result.headers['retry-after'] : undefined;
      const verdict = classifyAnswer(result.status, result.body, retryAfterHeader, now);
      if (verdict.kind === 'quota') {
        const quotaBlockMs = parseDuration(ctx.config.gateways?.[gateway.name]?.quotaBlock ?? '') ?? defaultQuotaBlockMs;
        const until = verdict.resetAt ?? now + quotaBlockMs;
        const message = redact(verdict.message, ctx.secrets).slice(0, 300);
        await recordBlock(store, gateway.name, until, { reason: 'quota', origin: options.origin, message });
        log(`claw proxy: ${gateway.name}: quota spent (${result.status}: ${message}); blocked until ${new Date(until).toISOString()}`);
        return answerQuota(ctx, { until, reason: 'quota', origin: options.origin, message, setAt: now });
      }
      if (verdict.kind === 'rateLimited') {
        await store.count(gateway.name, 'rateLimited').catch(() => undefined);
        const waitMs = verdict.retryAfterMs !== undefined ? Math.min(verdict.retryAfterMs, gateway.maxRetryAfterMs) : backoffDelay(defaultBackoff, attempt);
        if (verdict.retryAfterMs !== undefined) await recordBlock(store, gateway.name, now + waitMs, { reason: 'rate_limited', origin: options.origin });
        if (clock() + waitMs < deadline && !signal.aborted) {
          await store.count(gateway.name, 'retries').catch(() => undefined);
          stats.retries.set(gateway.name, (stats.retries.get(gateway.name) ?? 0) + 1);
          log(`claw proxy: ${gateway.name}: upstream 429; retrying after ${formatDuration(waitMs)}`);
          // With a Retry-After the block holds every process back; without one, back off here.
          if (verdict.retryAfterMs === undefined) await sleep(waitMs);
          if (signal.aborted) return stopped(ctx, signal.reason as Stop);
          continue;
        }
        const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
        log(`claw proxy: ${gateway.name}: upstream 429 past the retry budget (${formatDuration(retryForMs)}); answered 429`);
        return sendJson(res, 429, redact(result.body, ctx.secrets), { ...pick(result.headers, 'content-type'), 'retry-after': retryAfter });
      }
      // Any other error is the provider's answer: passed on as it came.
      if (!res.headersSent && !res.destroyed) {
        const text = redact(result.body, ctx.secrets);
        res.writeHead(result.status, { ...replyHeaders(result.headers), 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
      return;
    }
  }

  function stopped(ctx: Context, stop: Stop): void {
    if (stop.why === 'quota' && stop.block) return answerQuota(ctx, stop.block);
    if (stop.why === 'shutting-down') return refuse(ctx.res, 503, 'shutting_down', 'shutting down; retry shortly', { 'retry-after': '1', connection: 'close' });
    // client-gone: nobody to answer; too-large: answered already.
  }

  function forward(ctx: Context, admission: Admission): Promise<Forwarded> {
    const { req, res, gateway, body } = ctx;
    const target = new URL(`${gateway.baseUrl!.replace(/\/+$/, '')}${ctx.url.pathname.replace(/^\/[^/]+\/v1/, '')}${ctx.url.search}`);
    const https = target.protocol === 'https:';
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: Forwarded) => {
        if (settled) return;
        settled = true;
        body.detach();
        ctx.exchange.cut = undefined;
        resolve(result);
      };
      let sent: Promise<void> | undefined;
      const upstream = (https ? httpsRequest : httpRequest)(
        target,
        { method: req.method, headers: upstreamHeaders(req.headers, ctx.key), agent: https ? agents.https : agents.http },
        (reply) => {
          const status = reply.statusCode ?? 502;
          stats.upstreamAnswered(gateway.name, status);
          // A provider that hangs up mid-reply: the client's connection is cut too, so it sees an error, not a short answer.
          const hangUp = () => {
            res.destroy();
            settle({ kind: 'cut' });
          };
          reply.on('error', hangUp);
          reply.on('close', () => {
            if (!reply.complete) hangUp();
          });
          if (status === 429 || status === 402 || status === 403 || (status >= 400 && !res.headersSent && isJson(reply.headers))) {
            const chunks: Buffer[] = [];
            let size = 0;
            reply.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size <= errorBodyCap) chunks.push(chunk);
            });
            reply.on('end', () => {
              void (sent ?? Promise.resolve()).then(() =>
                settle({ kind: 'error', status, headers: reply.headers, body: Buffer.concat(chunks).toString('utf8') }),
              );
            });
            return;
          }
          if (res.destroyed) {
            reply.destroy();
            return settle({ kind: 'cut' });
          }
          res.writeHead(status, replyHeaders(reply.headers));
          const scanner = status < 300 ? usageScanner(reply.headers['content-type']) : undefined;
          reply.on('data', (chunk: Buffer) => {
            scanner?.push(chunk);
            if (!res.write(chunk)) {
              reply.pause();
              res.once('drain', () => reply.resume());
            }
          });
          reply.on('end', () => {
            res.end();
            const usage = scanner?.end();
            void (sent ?? Promise.resolve()).then(() => settle({ kind: 'passed', ...(usage ? { usage } : {}) }));
          });
        },
      );
      upstream.on('finish', () => {
        // The request is on the wire: its slot's window starts now.
        sent = startWindow(store, admission);
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (res.headersSent) {
          res.destroy();
          return settle({ kind: 'cut' });
        }
        if (ctx.exchange.stop.signal.aborted) return settle({ kind: 'cut' });
        settle({ kind: 'unreachable', code: String(err.code ?? err.message) });
      });
      ctx.exchange.cut = () => {
        upstream.destroy();
        settle({ kind: 'cut' });
      };
      body.pipeTo(upstream);
    });
  }

  const server = createServer({ noDelay: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`claw proxy: internal error: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) refuse(res, 502, 'internal_error', 'internal error (see the proxy log)');
      else res.destroy();
    });
  });
  // A body arrives while its request waits for a slot: the default 5-minute request timeout is kept.
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    stats,
    async shutdown(graceMs: number) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections?.();
      // Queued requests leave the queue now (their places go to other processes) and get a 503.
      for (const exchange of exchanges) if (exchange.phase !== 'upstream') exchange.stop.abort(new Stop('shutting-down'));
      const deadline = clock() + graceMs;
      while (exchanges.size > 0 && clock() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const exchange of exchanges) {
        exchange.stop.abort(new Stop('shutting-down'));
        exchange.cut?.();
      }
      server.closeAllConnections?.();
      await closed;
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

function isJson(headers: IncomingHttpHeaders): boolean {
  return String(headers['content-type'] ?? '').includes('json');
}

function pick(headers: IncomingHttpHeaders, name: string): OutgoingHttpHeaders {
  const value = headers[name];
  return value === undefined ? {} : { [name]: value };
}
