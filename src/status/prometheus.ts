// The text exposition of `claw status --prometheus`, for node-exporter's textfile collector.
import type { AgentHealth } from '../heartbeat/health.js';
import { renderPrometheus, type MetricFamily, type Sample } from '../output/prometheus.js';
import { tokenSamples } from '../proxy/usage.js';
import type { StatusDocument } from './document.js';

/** The text exposition for node-exporter's textfile collector, with the dashboard's metric names. */
export function formatPrometheus(doc: StatusDocument): string {
  const agent = (a: AgentHealth) => ({ agent_name: a.agent });
  const byGateway = new Map(doc.gateways.map((g) => [g.name, g]));
  const limited = doc.gateways.filter((g) => g.limited);
  const counters = (
    [
      ['admitted', 'admitted'],
      ['rateLimited', 'rate_limited'],
      ['retries', 'retries'],
      ['dropped', 'dropped'],
      ['fallbacks', 'fallbacks'],
    ] as const
  ).map(([key, name]): MetricFamily => ({
    name: `claw_gateway_${name}_total`,
    type: 'counter',
    help: `Requests ${name.replace('_', ' ')} (kept in the store)`,
    samples: doc.gateways.map((g) => [{ gateway: g.name }, g.counters[key]]),
  }));
  return renderPrometheus([
    {
      name: 'agent_heartbeat_status',
      type: 'gauge',
      help: 'Agent heartbeat status (1=ok, new or running, 0=late or failing)',
      samples: doc.agents.map((a) => [agent(a), a.health === 'late' || a.health === 'failing' ? 0 : 1]),
    },
    {
      name: 'agent_task_stagnation_seconds',
      type: 'gauge',
      help: 'Longest time an in-progress task has made no progress past stallAfter',
      samples: doc.agents.map((a) => [agent(a), a.stagnationSeconds]),
    },
    {
      name: 'agent_workboard_pending',
      type: 'gauge',
      help: 'Claimable tasks (dependencies met) across the three sources at the last heartbeat',
      samples: doc.agents.map((a) => [agent(a), a.pending]),
    },
    {
      name: 'agent_429_error_rate',
      type: 'gauge',
      help: "Share of admissions on the agent's gateway that upstream answered 429",
      samples: doc.agents.map((a) => {
        const g = a.gateway ? byGateway.get(a.gateway) : undefined;
        return [agent(a), g && g.counters.admitted > 0 ? +(g.counters.rateLimited / g.counters.admitted).toFixed(4) : 0];
      }),
    },
    {
      name: 'claw_agent_last_run_timestamp_seconds',
      type: 'gauge',
      help: 'When the last heartbeat of the agent started',
      samples: doc.agents.filter((a) => a.lastRun).map((a) => [agent(a), Math.round(Date.parse(a.lastRun!.startedAt) / 1000)]),
    },
    { name: 'claw_agent_paused_tasks', type: 'gauge', help: 'Tasks paused after maxRounds', samples: doc.agents.map((a) => [agent(a), a.paused]) },
    {
      name: 'claw_agent_unsent_escalations',
      type: 'gauge',
      help: 'Escalations that reached no one yet (failed notify or no template)',
      samples: doc.agents.map((a) => [agent(a), a.unsent.length]),
    },
    { name: 'claw_gateway_limit', type: 'gauge', help: 'Requests admitted per rolling window', samples: limited.map((g) => [{ gateway: g.name }, g.limit!]) },
    { name: 'claw_gateway_window_seconds', type: 'gauge', help: 'The rolling window', samples: limited.map((g) => [{ gateway: g.name }, g.windowMs! / 1000]) },
    { name: 'claw_gateway_used', type: 'gauge', help: 'Admissions in the current window', samples: doc.gateways.map((g) => [{ gateway: g.name }, g.used]) },
    {
      name: 'claw_gateway_waiters',
      type: 'gauge',
      help: 'Live waiters by priority',
      samples: doc.gateways.flatMap((g) => Object.entries(g.waiters).map(([p, n]): Sample => [{ gateway: g.name, priority: p }, n])),
    },
    ...counters,
    {
      name: 'claw_proxy_tokens_total',
      type: 'counter',
      help: 'Tokens in replies that came through claw proxy',
      samples: doc.gateways.flatMap((g) => (g.tokens ? tokenSamples(g.name, g.tokens) : [])),
    },
    { name: 'claw_cache_hits_total', type: 'counter', help: 'Cache reads served within TTL', samples: [[{}, doc.cache.hits]] },
    { name: 'claw_cache_misses_total', type: 'counter', help: 'Cache reads that needed a refresh', samples: [[{}, doc.cache.misses]] },
    {
      name: 'claw_cache_entries',
      type: 'gauge',
      help: 'Cache entries by category and freshness',
      samples: doc.cache.categories.flatMap((c): Sample[] => [
        [{ category: c.category, state: 'fresh' }, c.fresh],
        [{ category: c.category, state: 'stale' }, c.stale],
      ]),
    },
  ]);
}
