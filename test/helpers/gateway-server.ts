// A real chat-completions server on 127.0.0.1 that enforces its own rolling window by arrival time.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGateway {
  url: string;
  accepted: number[];
  rejected: number[];
  /** Requests that arrived well after a 429 told clients to wait, yet before that wait ended. */
  ignoredRetryAfter: number;
  authorizations: Set<string>;
  close(): Promise<void>;
}

export async function startGateway(limit: number, windowMs: number, options: { inFlightGraceMs?: number } = {}): Promise<FakeGateway> {
  const grace = options.inFlightGraceMs ?? 300;
  const accepted: number[] = [];
  const rejected: number[] = [];
  const blocks: { sentAt: number; until: number }[] = [];
  const state = { ignoredRetryAfter: 0 };
  const authorizations = new Set<string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const now = Date.now();
      authorizations.add(String(req.headers.authorization));
      if (blocks.some((b) => now > b.sentAt + grace && now < b.until)) state.ignoredRetryAfter++;
      const recent = accepted.filter((at) => at > now - windowMs);
      if (recent.length >= limit) {
        const retryAfterS = Math.max(1, Math.ceil((recent[0]! + windowMs - now) / 1000));
        rejected.push(now);
        blocks.push({ sentAt: now, until: now + retryAfterS * 1000 });
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfterS) });
        res.end(JSON.stringify({ error: { message: 'Too Many Requests' } }));
        return;
      }
      accepted.push(now);
      const request = JSON.parse(body || '{}');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'c1', model: request.model, choices: [{ index: 0, message: { role: 'assistant', content: `ok ${request.model}` } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    accepted,
    rejected,
    get ignoredRetryAfter() {
      return state.ignoredRetryAfter;
    },
    authorizations,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
