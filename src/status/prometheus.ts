// The text exposition of `claw status --prometheus`, for node-exporter's textfile collector.
import type { AgentHealth } from '../heartbeat/health.js';
import { tokenSamples } from '../proxy/usage.js';
import type { StatusDocument } from './document.js';

const esc = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The text exposition for node-exporter's textfile collector, with the dashboard's metric names. */
export function formatPrometheus(doc: StatusDocument): string {
  const out: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      out.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  };
  const agent = (a: AgentHealth) => ({ agent_name: a.agent });
  const byGateway = new Map(doc.gateways.map((g) => [g.name, g]));
  metric(
    'agent_heartbeat_status',
    'Agent heartbeat status (1=ok, new or running, 0=late or failing)',
    'gauge',
    doc.agents.map((a) => [agent(a), a.health === 'late' || a.health === 'failing' ? 0 : 1]),
  );
  metric(
    'agent_task_stagnation_seconds',
    'Longest time an in-progress task has made no progress past stallAfter',
    'gauge',
    doc.agents.map((a) => [agent(a), a.stagnationSeconds]),
  );
  metric(
    'agent_workboard_pending',
    'Claimable tasks (dependencies met) across the three sources at the last heartbeat',
    'gauge',
    doc.agents.map((a) => [agent(a), a.pending]),
  );
  metric(
    'agent_429_error_rate',
    "Share of admissions on the agent's gateway that upstream answered 429",
    'gauge',
    doc.agents.map((a) => {
      const g = a.gateway ? byGateway.get(a.gateway) : undefined;
      return [agent(a), g && g.counters.admitted > 0 ? +(g.counters.rateLimited / g.counters.admitted).toFixed(4) : 0];
    }),
  );
  metric(
    'claw_agent_last_run_timestamp_seconds',
    'When the last heartbeat of the agent started',
    'gauge',
    doc.agents.filter((a) => a.lastRun).map((a) => [agent(a), Math.round(Date.parse(a.lastRun!.startedAt) / 1000)]),
  );
  metric(
    'claw_agent_paused_tasks',
    'Tasks paused after maxRounds',
    'gauge',
    doc.agents.map((a) => [agent(a), a.paused]),
  );
  metric(
    'claw_agent_unsent_escalations',
    'Escalations that reached no one yet (failed notify or no template)',
    'gauge',
    doc.agents.map((a) => [agent(a), a.unsent.length]),
  );
  const limited = doc.gateways.filter((g) => g.limited);
  metric(
    'claw_gateway_limit',
    'Requests admitted per rolling window',
    'gauge',
    limited.map((g) => [{ gateway: g.name }, g.limit!]),
  );
  metric(
    'claw_gateway_window_seconds',
    'The rolling window',
    'gauge',
    limited.map((g) => [{ gateway: g.name }, g.windowMs! / 1000]),
  );
  metric(
    'claw_gateway_used',
    'Admissions in the current window',
    'gauge',
    doc.gateways.map((g) => [{ gateway: g.name }, g.used]),
  );
  metric(
    'claw_gateway_waiters',
    'Live waiters by priority',
    'gauge',
    doc.gateways.flatMap((g) => Object.entries(g.waiters).map(([p, n]) => [{ gateway: g.name, priority: p }, n] as [Record<string, string>, number])),
  );
  for (const [key, name] of [
    ['admitted', 'admitted'],
    ['rateLimited', 'rate_limited'],
    ['retries', 'retries'],
    ['dropped', 'dropped'],
    ['fallbacks', 'fallbacks'],
  ] as const) {
    metric(
      `claw_gateway_${name}_total`,
      `Requests ${name.replace('_', ' ')} (kept in the store)`,
      'counter',
      doc.gateways.map((g) => [{ gateway: g.name }, g.counters[key]]),
    );
  }
  metric(
    'claw_proxy_tokens_total',
    'Tokens in replies that came through claw proxy',
    'counter',
    doc.gateways.flatMap((g) => (g.tokens ? tokenSamples(g.name, g.tokens) : [])),
  );
  metric('claw_cache_hits_total', 'Cache reads served within TTL', 'counter', [[{}, doc.cache.hits]]);
  metric('claw_cache_misses_total', 'Cache reads that needed a refresh', 'counter', [[{}, doc.cache.misses]]);
  metric(
    'claw_cache_entries',
    'Cache entries by category and freshness',
    'gauge',
    doc.cache.categories.flatMap(
      (c) =>
        [
          [{ category: c.category, state: 'fresh' }, c.fresh],
          [{ category: c.category, state: 'stale' }, c.stale],
        ] as [Record<string, string>, number][],
    ),
  );
  return `${out.join('\n')}\n`;
}
