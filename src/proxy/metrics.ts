// The proxy's Prometheus text: this process's request counters, and the fleet-wide token counters
// and blocks kept in the store.
import { tokenSamples, type TokenUsage } from './usage.js';
import type { Block } from './blocks.js';

type Labels = Record<string, string>;

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

const esc = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export interface GatewayView {
  name: string;
  tokens: TokenUsage;
  block?: Block;
  used: number;
  limit: number | null;
}

export function formatMetrics(stats: ProxyStats, gateways: GatewayView[], now: number): string {
  const out: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [Labels, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      out.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  };
  const split = (map: Map<string, number>): [Labels, number][] =>
    [...map].map(([key, n]) => {
      const [gateway, code] = key.split('\t');
      return [{ gateway: gateway!, code: code! }, n];
    });
  metric('claw_proxy_requests_total', 'Requests this proxy answered, by gateway and the status the client got', 'counter', split(stats.requests));
  metric('claw_proxy_upstream_responses_total', 'Answers upstream gave this proxy, by gateway and status', 'counter', split(stats.upstream));
  metric(
    'claw_proxy_retries_total',
    'Upstream 429s this proxy retried',
    'counter',
    [...stats.retries].map(([gateway, n]) => [{ gateway }, n]),
  );
  metric(
    'claw_proxy_block_refusals_total',
    'Requests answered at once because the gateway was blocked (quota spent)',
    'counter',
    [...stats.refusedByBlock].map(([gateway, n]) => [{ gateway }, n]),
  );
  metric('claw_proxy_in_flight', 'Requests in this proxy now (queued or upstream)', 'gauge', [[{}, stats.inFlight]]);
  metric('claw_proxy_queued', 'Requests of this proxy waiting for a slot', 'gauge', [[{}, stats.queued]]);
  // Tokens are counted in the store, so these are fleet-wide totals (every proxy on the store).
  metric(
    'claw_proxy_tokens_total',
    'Tokens in replies that came through claw proxy (from the store: every proxy on it)',
    'counter',
    gateways.flatMap((g) => tokenSamples(g.name, g.tokens)),
  );
  metric(
    'claw_gateway_used',
    'Admissions in the current window',
    'gauge',
    gateways.map((g) => [{ gateway: g.name }, g.used]),
  );
  metric(
    'claw_gateway_blocked_seconds',
    'Seconds until the gateway block ends (0 when not blocked), by reason',
    'gauge',
    gateways.map((g) => [{ gateway: g.name, reason: g.block?.reason ?? '' }, g.block ? Math.max(0, Math.ceil((g.block.until - now) / 1000)) : 0]),
  );
  return `${out.join('\n')}\n`;
}
