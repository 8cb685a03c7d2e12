import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { ExitCode } from '../errors.js';
import { formatDuration } from '../duration.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { heartbeatsDir } from '../config/paths.js';
import type { GatewayReport } from '../limiter/report.js';
import type { AgentHealth } from '../heartbeat/health.js';
import type { CacheStats } from '../cache/stats.js';
import type { WorkboardPath } from '../sources/workboard-db.js';
import { formatProxyStatus, type ProxyGatewayStatus } from '../proxy/status.js';
import { tokenSamples } from '../proxy/usage.js';

interface RawStatusOptions {
  json?: boolean;
  check?: boolean;
  prometheus?: boolean;
  stateDir?: string;
  heartbeatsDir?: string;
}

export interface StatusDocument {
  ok: true;
  store: { kind: string; location: string; note?: string };
  gateways: (GatewayReport & Partial<ProxyGatewayStatus>)[];
  roster: string | null;
  agents: AgentHealth[];
  cache: CacheStats;
  /** How WorkBoard cards are read now: the plugin's database or the CLI, and why. */
  workboard: WorkboardPath;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatStatus(doc: StatusDocument, now: number): string {
  const ago = (iso: string | null) => (iso ? formatDuration(Math.abs(Date.parse(iso) - now)) : '-');
  const out = [`store: ${doc.store.kind} ${doc.store.location}${doc.store.note ? ` (${doc.store.note})` : ''}`, `workboard: ${doc.workboard.path}: ${doc.workboard.reason}`, ''];
  out.push(
    ...table(
      ['GATEWAY', 'LIMIT', 'USED', 'FREE', 'NEXT FREE', 'WAITING u/h/n/l', 'BLOCKED', 'ADMITTED', 'WAIT p50/p95', 'FALLBACK', 'DROPPED', '429s', 'RETRIES'],
      doc.gateways.map((g) => [
        g.name,
        g.limited ? `${g.limit}/${formatDuration(g.windowMs!)}` : 'unlimited',
        String(g.used),
        g.free === null ? '-' : String(g.free),
        g.nextFreeAt ? `in ${ago(g.nextFreeAt)}` : '-',
        `${g.waiters.urgent}/${g.waiters.high}/${g.waiters.normal}/${g.waiters.low}`,
        g.blockedUntil ? `${ago(g.blockedUntil)} left` : '-',
        String(g.counters.admitted),
        `${g.waitedMs.p50 === null ? '-' : formatDuration(g.waitedMs.p50)}/${g.waitedMs.p95 === null ? '-' : formatDuration(g.waitedMs.p95)}`,
        String(g.counters.fallbacks),
        String(g.counters.dropped),
        String(g.counters.rateLimited),
        String(g.counters.retries),
      ]),
    ),
  );
  for (const g of doc.gateways.filter((x) => x.block)) {
    const b = g.block!;
    out.push(
      `blocked: ${g.name} until ${b.until} (${ago(b.until)} left, ${b.reason === 'quota' ? 'quota' : 'rate limited'}) by ${b.origin}` +
        `${b.message ? `: ${b.message}` : ''}; clear it with \`claw unblock ${g.name}\``,
    );
  }
  out.push(...formatProxyStatus(doc.gateways));
  out.push('');
  if (doc.roster === null) out.push('agents: no roster found (pass --heartbeats-dir or set CLAW_HEARTBEATS_DIR)');
  else {
    out.push(
      ...table(
        ['AGENT', 'SCHEDULE', 'LAST RUN', 'OUTCOME', 'NEXT RUN', 'HEALTH', 'PENDING', 'STALLED', 'PAUSED', 'UNSENT'],
        doc.agents.map((a) => [
          a.agent,
          `${a.schedule} ${a.tz}`,
          a.lastRun ? `${ago(a.lastRun.startedAt)} ago` : 'never',
          a.lastRun?.outcome ?? '-',
          `in ${ago(a.nextRunAt)}`,
          a.health,
          String(a.pending),
          String(a.stalled),
          String(a.paused),
          String(a.unsent.length),
        ]),
      ),
    );
    for (const a of doc.agents) {
      for (const u of a.unsent) out.push(`unsent escalation ${a.agent} ${u.condition}: ${u.error ?? 'not sent'}${u.attempts ? ` (${u.attempts} attempt(s))` : ''}`);
    }
  }
  out.push('');
  const c = doc.cache;
  out.push(
    `cache: ${c.categories.map((k) => `${k.category} ${k.fresh} fresh/${k.stale} stale`).join(', ') || 'empty'}; ` +
      `hit rate ${c.hitRate === null ? '-' : `${Math.round(c.hitRate * 100)}%`} (${c.hits} hits, ${c.misses} misses, ${c.staleServed} stale served)`,
  );
  return `${out.join('\n')}\n`;
}

const esc = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The text exposition for node-exporter's textfile collector, with the dashboard's metric names. */
export function formatPrometheus(doc: StatusDocument): string {
  const out: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
      out.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  };
  const agent = (a: AgentHealth) => ({ agent_name: a.agent });
  const byGateway = new Map(doc.gateways.map((g) => [g.name, g]));
  metric('agent_heartbeat_status', 'Agent heartbeat status (1=ok, new or running, 0=late or failing)', 'gauge', doc.agents.map((a) => [agent(a), a.health === 'late' || a.health === 'failing' ? 0 : 1]));
  metric('agent_task_stagnation_seconds', 'Longest time an in-progress task has made no progress past stallAfter', 'gauge', doc.agents.map((a) => [agent(a), a.stagnationSeconds]));
  metric('agent_workboard_pending', 'Claimable tasks (dependencies met) across the three sources at the last heartbeat', 'gauge', doc.agents.map((a) => [agent(a), a.pending]));
  metric(
    'agent_429_error_rate',
    "Share of admissions on the agent's gateway that upstream answered 429",
    'gauge',
    doc.agents.map((a) => {
      const g = a.gateway ? byGateway.get(a.gateway) : undefined;
      return [agent(a), g && g.counters.admitted > 0 ? +(g.counters.rateLimited / g.counters.admitted).toFixed(4) : 0];
    }),
  );
  metric('claw_agent_last_run_timestamp_seconds', 'When the last heartbeat of the agent started', 'gauge', doc.agents.filter((a) => a.lastRun).map((a) => [agent(a), Math.round(Date.parse(a.lastRun!.startedAt) / 1000)]));
  metric('claw_agent_paused_tasks', 'Tasks paused after maxRounds', 'gauge', doc.agents.map((a) => [agent(a), a.paused]));
  metric('claw_agent_unsent_escalations', 'Escalations that reached no one yet (failed notify or no template)', 'gauge', doc.agents.map((a) => [agent(a), a.unsent.length]));
  const limited = doc.gateways.filter((g) => g.limited);
  metric('claw_gateway_limit', 'Requests admitted per rolling window', 'gauge', limited.map((g) => [{ gateway: g.name }, g.limit!]));
  metric('claw_gateway_window_seconds', 'The rolling window', 'gauge', limited.map((g) => [{ gateway: g.name }, g.windowMs! / 1000]));
  metric('claw_gateway_used', 'Admissions in the current window', 'gauge', doc.gateways.map((g) => [{ gateway: g.name }, g.used]));
  metric('claw_gateway_waiters', 'Live waiters by priority', 'gauge', doc.gateways.flatMap((g) => Object.entries(g.waiters).map(([p, n]) => [{ gateway: g.name, priority: p }, n] as [Record<string, string>, number])));
  for (const [key, name] of [['admitted', 'admitted'], ['rateLimited', 'rate_limited'], ['retries', 'retries'], ['dropped', 'dropped'], ['fallbacks', 'fallbacks']] as const) {
    metric(`claw_gateway_${name}_total`, `Requests ${name.replace('_', ' ')} (kept in the store)`, 'counter', doc.gateways.map((g) => [{ gateway: g.name }, g.counters[key]]));
  }
  metric('claw_proxy_tokens_total', 'Tokens in replies that came through claw proxy', 'counter', doc.gateways.flatMap((g) => (g.tokens ? tokenSamples(g.name, g.tokens) : [])));
  metric('claw_cache_hits_total', 'Cache reads served within TTL', 'counter', [[{}, doc.cache.hits]]);
  metric('claw_cache_misses_total', 'Cache reads that needed a refresh', 'counter', [[{}, doc.cache.misses]]);
  metric('claw_cache_entries', 'Cache entries by category and freshness', 'gauge', doc.cache.categories.flatMap((c) => [[{ category: c.category, state: 'fresh' }, c.fresh], [{ category: c.category, state: 'stale' }, c.stale]] as [Record<string, string>, number][]));
  return `${out.join('\n')}\n`;
}

export function registerStatus(program: Command, ctx: Context): void {
  program
    .command('status')
    .summary('show the limits, the cache and every agent\'s health')
    .description(
      'Per gateway: limit and window, used in the current window, free now, when the next slot frees,\n' +
        'live waiters by priority, the 429 back-off (blocked until, who set it and why; `claw unblock` clears it),\n' +
        'and counters kept in the store.\n' +
        'Per agent: schedule, last run and outcome, next expected run, health (ok, new, late, running, failing),\n' +
        'pending, stalled and paused tasks. The cache: entries per category, fresh or stale, hit rate.',
    )
    .option('--json', 'print one stable JSON document')
    .option('--check', 'exit 75 when an agent is late or failing')
    .option('--prometheus', "print the text exposition for node-exporter's textfile collector")
    .addOption(heartbeatsDirOption())
    .addOption(stateDirOption())
    .addHelpText(
      'after',
      '\nExamples:\n  claw status\n  claw status --json | jq \'.gateways[] | select(.name=="nvidia")\'\n  claw status --check || echo "an agent is late or failing"\n  claw status --prometheus > /var/lib/node_exporter/textfile/claw.prom',
    )
    .action(async (raw: RawStatusOptions) => {
      const [{ loadConfig }, { allGateways, toGateway, resolveGateway }, { gatewayReport }, { cacheStats }, { workboardPath }, { proxyGatewayStatus }] = await Promise.all([
        import('../config/config.js'),
        import('../limiter/gateways.js'),
        import('../limiter/report.js'),
        import('../cache/stats.js'),
        import('../sources/workboard-db.js'),
        import('../proxy/status.js'),
      ]);
      const config = loadConfig(ctx.io.env);
      const dir = heartbeatsDir(ctx.io.env, config, ctx.io.cwd, raw.heartbeatsDir);
      // The roster is optional for status unless it was asked for by name; without one, its
      // modules (and cron-parser) are never loaded.
      const wanted = existsSync(dir) || raw.heartbeatsDir || ctx.io.env.CLAW_HEARTBEATS_DIR;
      const [roster, health, book] = wanted
        ? await Promise.all([import('../config/roster.js'), import('../heartbeat/health.js'), import('../cron/schedule-book.js')])
        : [];
      const store = await openCommandStore(ctx, config, raw.stateDir);
      try {
        const schedules = book ? await book.readScheduleBook(store) : undefined;
        const agents = roster && schedules ? (await roster.loadRoster(dir, schedules, ctx.io.now())).agents : undefined;
        const gateways = allGateways(config);
        const configured = new Set(gateways.map((g) => g.name));
        // Gateways seen in traffic but not configured are unknown, hence unlimited.
        for (const name of await store.knownGateways()) if (!configured.has(name)) gateways.push(toGateway(name, undefined));
        const now = ctx.io.now();
        const healthOf = agents && health && schedules ? await health.agentHealth(store, agents, now, schedules) : [];
        if (book && schedules) await book.saveScheduleBook(store, schedules);
        const doc: StatusDocument = {
          ok: true,
          store: { kind: store.kind, location: store.location, ...(store.note ? { note: store.note } : {}) },
          gateways: await Promise.all(gateways.map(async (g) => ({ ...(await gatewayReport(store, g, now)), ...(await proxyGatewayStatus(store, g)) }))),
          roster: agents ? dir : null,
          agents: healthOf.map((h, i) => ({ ...h, gateway: resolveGateway(config, { model: agents![i]!.model }).name })),
          cache: await cacheStats(store),
          workboard: workboardPath(ctx.io.env, config.workboard?.read ?? 'auto'),
        };
        if (raw.prometheus) ctx.io.stdout.write(formatPrometheus(doc));
        else ctx.io.stdout.write(raw.json ? `${JSON.stringify(doc, null, 2)}\n` : formatStatus(doc, now));
        const unwell = doc.agents.filter((a) => a.health === 'late' || a.health === 'failing');
        if (raw.check && unwell.length > 0) {
          ctx.io.stderr.write(`claw: ${unwell.length} agent(s) late or failing: ${unwell.map((a) => `${a.agent} (${a.health})`).join(', ')}\n`);
          ctx.exitCode = ExitCode.tempFail;
        }
      } finally {
        await store.close();
      }
    });
}
