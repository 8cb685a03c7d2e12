// What `claw status` adds for the proxy: token usage per gateway and agent (blocks are the gateway report's).
import type { CounterStore } from '../store/types.js';
import type { Gateway } from '../limiter/types.js';
import { tokenUsage, type TokenUsage } from './usage.js';

export interface ProxyGatewayStatus {
  tokens: TokenUsage;
}

export async function proxyGatewayStatus(store: CounterStore, gateway: Gateway): Promise<ProxyGatewayStatus> {
  return { tokens: tokenUsage(await store.counters(gateway.name)) };
}

/** Lines under the gateway table: token usage per gateway and agent. */
export function formatProxyStatus(gateways: ({ name: string } & Partial<ProxyGatewayStatus>)[]): string[] {
  const out: string[] = [];
  for (const g of gateways) {
    const t = g.tokens;
    if (t && (t.prompt > 0 || t.completion > 0)) {
      const agents = Object.entries(t.byAgent).map(([agent, a]) => `${agent} ${a.prompt}/${a.completion}`);
      out.push(
        `${g.name}: tokens ${t.prompt} prompt / ${t.completion} completion${agents.length ? ` (by agent, prompt/completion: ${agents.join(', ')})` : ''}`,
      );
    }
  }
  return out;
}
