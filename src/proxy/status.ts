// What `claw status` adds for the proxy: a gateway's block with its reason, and token usage.
import type { Store } from '../store/types.js';
import type { Gateway } from '../limiter/gateways.js';
import { recordedBlock } from './blocks.js';
import { tokenUsage, type TokenUsage } from './usage.js';

export interface ProxyGatewayStatus {
  block: { until: string; reason: string; origin: string; message?: string } | null;
  tokens: TokenUsage;
}

/** Blocks set without a reason (a `claw call` that met a 429) show as `blockedUntil` in the gateway report. */
export async function proxyGatewayStatus(store: Store, gateway: Gateway, clock: () => number): Promise<ProxyGatewayStatus> {
  const [block, counters] = await Promise.all([recordedBlock(store, gateway, clock), store.counters(gateway.name)]);
  return {
    block: block ? { until: new Date(block.until).toISOString(), reason: block.reason, origin: block.origin, ...(block.message ? { message: block.message } : {}) } : null,
    tokens: tokenUsage(counters),
  };
}

/** Lines under the gateway table: blocks with their reason, and token usage per gateway and agent. */
export function formatProxyStatus(gateways: ({ name: string } & Partial<ProxyGatewayStatus>)[]): string[] {
  const out: string[] = [];
  for (const g of gateways) {
    if (g.block) out.push(`${g.name}: blocked until ${g.block.until} (${g.block.reason === 'quota' ? 'quota spent' : 'rate limited'}${g.block.message ? `: ${g.block.message}` : ''}; set by ${g.block.origin})`);
    const t = g.tokens;
    if (t && (t.prompt > 0 || t.completion > 0)) {
      const agents = Object.entries(t.byAgent).map(([agent, a]) => `${agent} ${a.prompt}/${a.completion}`);
      out.push(`${g.name}: tokens ${t.prompt} prompt / ${t.completion} completion${agents.length ? ` (by agent, prompt/completion: ${agents.join(', ')})` : ''}`);
    }
  }
  return out;
}
