// One OpenAI-style chat completion against a gateway's baseUrl.
import { ClawError, ConfigError, ExitCode, TempFailError, UnavailableError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { parseRetryAfter, type RetryAfter } from '../limiter/backoff.js';
import { builtinModule } from '../host.js';

export interface ChatRequest {
  url: string;
  apiKey: string;
  body: unknown;
  timeoutMs: number;
  now: () => number;
  /** The ceiling on a 429's Retry-After (the gateway's maxRetryAfter). */
  maxRetryAfterMs?: number;
  /** The request is on the wire. */
  onSent?: () => void;
}

export type ChatOutcome =
  | { kind: 'ok'; response: unknown }
  | { kind: 'rateLimited'; retryAfter?: RetryAfter; status: number; message: string }
  | { kind: 'serverError'; status: number; message: string };

/** Hides the key anywhere it might be echoed back (an error body, a URL). */
export function redact(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

function errorMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    if (message) return message;
  } catch {
    // not JSON: use the text itself
  }
  return text.trim().slice(0, 200) || '(empty body)';
}

interface RawResponse {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

class RequestTimeout extends Error {}

/**
 * node:http rather than fetch: `onSent` fires when the request has been written to the socket,
 * which is when the admission's window should start (fetch's first call alone can take longer than
 * the gateway's margin on a loaded machine).
 */
function send(request: ChatRequest): Promise<RawResponse> {
  const target = new URL(request.url);
  const lib = builtinModule<typeof import('node:http')>(target.protocol === 'https:' ? 'node:https' : 'node:http')!;
  const body = Buffer.from(JSON.stringify(request.body));
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${request.apiKey}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const retryAfter = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new RequestTimeout()), request.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('finish', () => request.onSent?.());
    req.end(body);
  });
}

export async function postChat(request: ChatRequest): Promise<ChatOutcome> {
  let response: RawResponse;
  try {
    response = await send(request);
  } catch (err) {
    if (err instanceof RequestTimeout) {
      throw new TempFailError(`no answer from ${request.url} within ${formatDuration(request.timeoutMs)}; raise --timeout or try again later`);
    }
    const error = err as NodeJS.ErrnoException;
    throw new UnavailableError(
      `cannot reach ${request.url}: ${redact(String(error.code ?? error.message), request.apiKey)}; check the network and the gateway's baseUrl`,
    );
  }
  const { status, text } = response;
  if (status === 429) {
    const retryAfter = parseRetryAfter(response.retryAfter, request.now(), request.maxRetryAfterMs);
    return { kind: 'rateLimited', status: 429, message: redact(errorMessage(text), request.apiKey), ...(retryAfter ? { retryAfter } : {}) };
  }
  if (status >= 500) return { kind: 'serverError', status, message: redact(errorMessage(text), request.apiKey) };
  if (status === 401 || status === 403) {
    throw new ConfigError(`${request.url} refused the API key (${status}): ${redact(errorMessage(text), request.apiKey)}; check the key`);
  }
  if (status >= 400) {
    throw new ClawError(`${request.url} rejected the request (${status}): ${redact(errorMessage(text), request.apiKey)}`, ExitCode.unavailable, 'unavailable');
  }
  try {
    return { kind: 'ok', response: JSON.parse(text) };
  } catch {
    throw new UnavailableError(`${request.url} answered ${status} with a body that is not JSON: ${redact(text.slice(0, 120), request.apiKey)}`);
  }
}

export function replyText(response: unknown): string {
  const choices = (response as { choices?: { message?: { content?: unknown } }[] }).choices;
  const content = choices?.[0]?.message?.content;
  return typeof content === 'string' ? content : '';
}
