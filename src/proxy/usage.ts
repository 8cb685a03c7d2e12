// Token usage from a reply as it streams past: the `usage` of a JSON body, or of the last SSE chunk
// that carries one (OpenAI's `stream_options.include_usage`). Nothing is held back from the client.
import type { CounterName } from '../store/types.js';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** A JSON body larger than this is passed on but not parsed for usage. */
const jsonCap = 8 * 1024 * 1024;
/** An SSE line longer than this cannot be a usage chunk worth keeping. */
const lineCap = 1024 * 1024;

function usageOf(value: unknown): Usage | undefined {
  const usage = (value as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null } | null)?.usage;
  if (!usage || typeof usage !== 'object') return undefined;
  const prompt = Number(usage.prompt_tokens ?? 0);
  const completion = Number(usage.completion_tokens ?? 0);
  if (!Number.isFinite(prompt) || !Number.isFinite(completion)) return undefined;
  return { promptTokens: Math.max(0, Math.round(prompt)), completionTokens: Math.max(0, Math.round(completion)) };
}

export interface UsageScanner {
  push(chunk: Buffer): void;
  /** The usage seen, once the reply has ended. */
  end(): Usage | undefined;
}

/** Scans `data:` lines; only lines that mention "usage" are parsed, and the last usage wins. */
export function sseUsageScanner(): UsageScanner {
  let partial = '';
  let last: Usage | undefined;
  const line = (text: string) => {
    if (!text.startsWith('data:') || !text.includes('"usage"')) return;
    try {
      last = usageOf(JSON.parse(text.slice(5).trim())) ?? last;
    } catch {
      // a data line that is not JSON ([DONE], a keep-alive): no usage in it
    }
  };
  return {
    push(chunk) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      if (partial.length > lineCap) partial = '';
      for (const text of lines) line(text.replace(/\r$/, ''));
    },
    end() {
      if (partial) line(partial.replace(/\r$/, ''));
      partial = '';
      return last;
    },
  };
}

export function jsonUsageScanner(): UsageScanner {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.length;
      if (size <= jsonCap) chunks.push(chunk);
    },
    end() {
      if (size > jsonCap) return undefined;
      try {
        return usageOf(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        return undefined;
      }
    },
  };
}

/** The scanner for a reply's content type, or undefined when it cannot carry usage. */
export function usageScanner(contentType: string | undefined): UsageScanner | undefined {
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('text/event-stream')) return sseUsageScanner();
  if (type.includes('json')) return jsonUsageScanner();
  return undefined;
}

/** Counter names in the gateway's scope: totals, and per agent when the request named one. */
export function usageCounters(usage: Usage, agent: string | undefined): [CounterName, number][] {
  const out: [CounterName, number][] = [
    ['tokens_prompt', usage.promptTokens],
    ['tokens_completion', usage.completionTokens],
  ];
  if (agent) out.push([`tokens_prompt@${agent}`, usage.promptTokens], [`tokens_completion@${agent}`, usage.completionTokens]);
  return out.filter(([, n]) => n > 0);
}

export interface TokenUsage {
  prompt: number;
  completion: number;
  byAgent: Record<string, { prompt: number; completion: number }>;
}

/** Reads the token counters of a gateway's scope back into totals and per-agent figures. */
export function tokenUsage(counters: Record<string, number>): TokenUsage {
  const result: TokenUsage = { prompt: counters.tokens_prompt ?? 0, completion: counters.tokens_completion ?? 0, byAgent: {} };
  for (const [name, value] of Object.entries(counters)) {
    const m = /^tokens_(prompt|completion)@(.+)$/.exec(name);
    if (!m) continue;
    const agent = (result.byAgent[m[2]!] ??= { prompt: 0, completion: 0 });
    agent[m[1] as 'prompt' | 'completion'] = value;
  }
  return result;
}

/** Samples for `claw_proxy_tokens_total{gateway,agent,kind}`: one per agent, and agent="" for requests without x-claw-agent, so a sum over agents is the total. */
export function tokenSamples(gateway: string, tokens: TokenUsage): [Record<string, string>, number][] {
  const samples: [Record<string, string>, number][] = [];
  for (const kind of ['prompt', 'completion'] as const) {
    let named = 0;
    for (const [agent, t] of Object.entries(tokens.byAgent)) {
      samples.push([{ gateway, agent, kind }, t[kind]]);
      named += t[kind];
    }
    samples.push([{ gateway, agent: '', kind }, Math.max(0, tokens[kind] - named)]);
  }
  return samples;
}
