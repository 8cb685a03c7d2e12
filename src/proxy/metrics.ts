// The proxy's Prometheus text: this process's request counters, and the fleet-wide token counters
// and blocks kept in the store.
import { tokenSamples, type TokenUsage } from './usage.js';
import type { Block } from './blocks.js';
import { renderPrometheus, type Sample } from '../output/prometheus.js';

/** Counters of this process, keyed by their labels. */
export class ProxyStats {
  readonly requests = new Map<string, number>();
  readonly upstream = new Map<string, number>();
  readonly retries = new Map<string, number>();
  readonly refusedByBlock = new Map<string, number>();
  inFlight = 0;
  queued = 0;

  /** An answer the proxy gave: `code` is the HTTP status the client got. */
  answered(gateway: string, code: number): void {
    bump(this.requests, `${gateway}\t${code}`);
  }

  /** An answer upstream gave the proxy. */
  upstreamAnswered(gateway: string, code: number): void {
    bump(this.upstream, `${gateway}\t${code}`);
  }
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

export interface GatewayView {
  name: string;
  tokens: TokenUsage;
  block?: Block;
  used: number;
  limit: number | null;
}

export function formatMetrics(stats: ProxyStats, gateways: GatewayView[], now: number): string {
  const split = (map: Map<string, number>): Sample[] =>
    [...map].map(([key, n]) => {
      const [gateway, code] = key.split('\t');
      return [{ gateway: gateway!, code: code! }, n];
    });
  const byGateway = (map: Map<string, number>): Sample[] => [...map].map(([gateway, n]) => [{ gateway }, n]);
  return renderPrometheus([
    {
      name: 'claw_proxy_requests_total',
      type: 'counter',
      help: 'Requests this proxy answered, by gateway and the status the client got',
      samples: split(stats.requests),
    },
    {
      name: 'claw_proxy_upstream_responses_total',
      type: 'counter',
      help: 'Answers upstream gave this proxy, by gateway and status',
      samples: split(stats.upstream),
    },
    { name: 'claw_proxy_retries_total', type: 'counter', help: 'Upstream 429s this proxy retried', samples: byGateway(stats.retries) },
    {
      name: 'claw_proxy_block_refusals_total',
      type: 'counter',
      help: 'Requests answered at once because the gateway was blocked (quota spent)',
      samples: byGateway(stats.refusedByBlock),
    },
    { name: 'claw_proxy_in_flight', type: 'gauge', help: 'Requests in this proxy now (queued or upstream)', samples: [[{}, stats.inFlight]] },
    { name: 'claw_proxy_queued', type: 'gauge', help: 'Requests of this proxy waiting for a slot', samples: [[{}, stats.queued]] },
    // Tokens are counted in the store, so these are fleet-wide totals (every proxy on the store).
    {
      name: 'claw_proxy_tokens_total',
      type: 'counter',
      help: 'Tokens in replies that came through claw proxy (from the store: every proxy on it)',
      samples: gateways.flatMap((g) => tokenSamples(g.name, g.tokens)),
    },
    { name: 'claw_gateway_used', type: 'gauge', help: 'Admissions in the current window', samples: gateways.map((g) => [{ gateway: g.name }, g.used]) },
    {
      name: 'claw_gateway_blocked_seconds',
      type: 'gauge',
      help: 'Seconds until the gateway block ends (0 when not blocked), by reason',
      samples: gateways.map((g) => [{ gateway: g.name, reason: g.block?.reason ?? '' }, g.block ? Math.max(0, Math.ceil((g.block.until - now) / 1000)) : 0]),
    },
  ]);
}
