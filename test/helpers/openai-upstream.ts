// A chat-completions provider on 127.0.0.1 for the proxy tests: a strict rolling window by arrival
// time (429 with Retry-After past it), SSE streaming with a delay between chunks and usage in the
// last chunk (like `stream_options.include_usage`), a switchable quota answer, and a request log.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamRequest {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  status: number;
}

export interface QuotaAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface Upstream {
  url: string;
  requests: UpstreamRequest[];
  accepted: number[];
  rejected: number[];
  /** Requests that arrived after a 429 told clients to wait (plus a grace), yet before that wait ended. */
  ignoredRetryAfter: number;
  /** When each streamed reply wrote its last chunk. */
  lastChunkAt: number[];
  /** While set, every request gets this answer (a spent quota). */
  quota: QuotaAnswer | undefined;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Requests per rolling window; Infinity for none. */
  limit?: number;
  windowMs?: number;
  /** Retry-After (seconds) of a 429; default: until the oldest request leaves the window. */
  retryAfterS?: number;
  chunks?: number;
  chunkDelayMs?: number;
  /** Delay before a JSON (non-streamed) answer. */
  replyDelayMs?: number;
  inFlightGraceMs?: number;
  /** Hang up a streamed reply after this many chunks (a provider that goes away). */
  dropAfterChunks?: number;
}

export const usageFor = (body: any) => ({
  prompt_tokens: JSON.stringify(body.messages ?? []).length,
  completion_tokens: 7,
});

export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const limit = options.limit ?? Infinity;
  const windowMs = options.windowMs ?? 60_000;
  const chunks = options.chunks ?? 4;
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  const grace = options.inFlightGraceMs ?? 300;
  const state: Upstream = {
    url: '',
    requests: [],
    accepted: [],
    rejected: [],
    ignoredRetryAfter: 0,
    lastChunkAt: [],
    quota: undefined,
    close: async () => undefined,
  };
  const blocks: { sentAt: number; until: number }[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const now = Date.now();
      let body: any = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}');
      } catch {
        body = { unparsable: true };
      }
      const entry: UpstreamRequest = { at: now, path: req.url ?? '', headers: req.headers, body, status: 0 };
      state.requests.push(entry);
      const answer = (status: number, headers: Record<string, string | number>, text: string) => {
        entry.status = status;
        res.writeHead(status, headers);
        res.end(text);
      };
      if (state.quota) {
        const text = JSON.stringify(state.quota.body);
        return answer(state.quota.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...state.quota.headers }, text);
      }
      if (blocks.some((b) => now > b.sentAt + grace && now < b.until)) state.ignoredRetryAfter++;
      const recent = state.accepted.filter((at) => at > now - windowMs);
      if (recent.length >= limit) {
        const retryAfterS = options.retryAfterS ?? Math.max(1, Math.ceil((recent[0]! + windowMs - now) / 1000));
        state.rejected.push(now);
        blocks.push({ sentAt: now, until: now + retryAfterS * 1000 });
        return answer(
          429,
          { 'content-type': 'application/json', 'retry-after': String(retryAfterS) },
          JSON.stringify({ error: { message: 'Too Many Requests', type: 'rate_limit_error' } }),
        );
      }
      state.accepted.push(now);
      const usage = usageFor(body);
      const id = `chatcmpl-${state.requests.length}`;
      if (!body.stream) {
        const text = JSON.stringify({
          id,
          object: 'chat.completion',
          created: Math.floor(now / 1000),
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: `ok ${body.model}` }, finish_reason: 'stop' }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        });
        setTimeout(() => answer(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }, text), options.replyDelayMs ?? 0);
        return;
      }
      entry.status = 200;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (options.dropAfterChunks !== undefined && i >= options.dropAfterChunks) return void res.destroy();
        if (i < chunks) {
          chunk({
            id,
            object: 'chat.completion.chunk',
            created: Math.floor(now / 1000),
            model: body.model,
            choices: [{ index: 0, delta: { content: `part${i} ` }, finish_reason: null }],
          });
          i++;
          setTimeout(next, chunkDelayMs);
          return;
        }
        chunk({
          id,
          object: 'chat.completion.chunk',
          created: Math.floor(now / 1000),
          model: body.model,
          choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        });
        if (body.stream_options?.include_usage) {
          chunk({
            id,
            object: 'chat.completion.chunk',
            created: Math.floor(now / 1000),
            model: body.model,
            choices: [],
            usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
          });
        }
        state.lastChunkAt.push(Date.now());
        res.end('data: [DONE]\n\n');
      };
      next();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}/v1`;
  state.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
