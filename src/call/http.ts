// One OpenAI-style chat completion against a gateway's baseUrl.
import { ClawError, ConfigError, ExitCode, TempFailError, UnavailableError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { parseRetryAfter } from '../limiter/backoff.js';

export interface ChatRequest {
  url: string;
  apiKey: string;
  body: unknown;
  timeoutMs: number;
  now: () => number;
}

export type ChatOutcome =
  | { kind: 'ok'; response: unknown }
  | { kind: 'rateLimited'; retryAfterMs?: number; status: number }
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

export async function postChat(request: ChatRequest): Promise<ChatOutcome> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${request.apiKey}` },
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (err) {
    const error = err as Error & { cause?: { code?: string; message?: string } };
    if (error.name === 'TimeoutError' || error.name === 'AbortError') {
      throw new TempFailError(`no answer from ${request.url} within ${formatDuration(request.timeoutMs)}; raise --timeout or try again later`);
    }
    const cause = error.cause?.code ?? error.cause?.message ?? error.message;
    throw new UnavailableError(`cannot reach ${request.url}: ${redact(String(cause), request.apiKey)}; check the network and the gateway's baseUrl`);
  }
  const text = await response.text();
  if (response.status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), request.now());
    return { kind: 'rateLimited', status: 429, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  if (response.status >= 500) return { kind: 'serverError', status: response.status, message: redact(errorMessage(text), request.apiKey) };
  if (response.status === 401 || response.status === 403) {
    throw new ConfigError(`${request.url} refused the API key (${response.status}): ${redact(errorMessage(text), request.apiKey)}; check the key`);
  }
  if (response.status >= 400) {
    throw new ClawError(`${request.url} rejected the request (${response.status}): ${redact(errorMessage(text), request.apiKey)}`, ExitCode.unavailable, 'unavailable');
  }
  try {
    return { kind: 'ok', response: JSON.parse(text) };
  } catch {
    throw new UnavailableError(`${request.url} answered ${response.status} with a body that is not JSON: ${redact(text.slice(0, 120), request.apiKey)}`);
  }
}

export function replyText(response: unknown): string {
  const choices = (response as { choices?: { message?: { content?: unknown } }[] }).choices;
  const content = choices?.[0]?.message?.content;
  return typeof content === 'string' ? content : '';
}
