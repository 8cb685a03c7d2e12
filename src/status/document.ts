// The document `claw status` shows (as tables, --json or --prometheus): gateways, agents, cache, store.
import { existsSync } from 'node:fs';
import type { ClawConfig } from '../config/config.js';
import { heartbeatsDir } from '../config/paths.js';
import type { GatewayReport } from '../limiter/report.js';
import type { AgentHealth } from '../heartbeat/health.js';
import type { CacheStats } from '../cache/stats.js';
import type { WorkboardPath } from '../sources/workboard-db.js';
import type { ProxyGatewayStatus } from '../proxy/status.js';
import type { Store } from '../store/types.js';

export interface StatusDocument {
  ok: boolean;
  store: { kind: string; location: string; note?: string };
  gateways: (GatewayReport & Partial<ProxyGatewayStatus>)[];
  roster: string | null;
  agents: AgentHealth[];
  cache: CacheStats;
  /** How WorkBoard cards are read now: the plugin's database or the CLI, and why. */
  workboard: WorkboardPath;
}

export interface StatusInputs {
  env: NodeJS.ProcessEnv;
  cwd: string;
  now(): number;
  /** --heartbeats-dir, when given. */
  heartbeatsDirFlag?: string | undefined;
}

/** Reads everything status shows from the store (and the roster, when there is one). */
export async function statusDocument(store: Store, config: ClawConfig, inputs: StatusInputs): Promise<StatusDocument> {
  const [{ allGateways, toGateway, resolveGateway }, { gatewayReport }, { cacheStats }, { workboardPath }, { proxyGatewayStatus }] = await Promise.all([
    import('../limiter/gateways.js'),
    import('../limiter/report.js'),
    import('../cache/stats.js'),
    import('../sources/workboard-db.js'),
    import('../proxy/status.js'),
  ]);
  const dir = heartbeatsDir(inputs.env, config, inputs.cwd, inputs.heartbeatsDirFlag);
  // The roster is optional for status unless it was asked for by name; without one, its
  // modules (and cron-parser) are never loaded.
  const wanted = existsSync(dir) || inputs.heartbeatsDirFlag || inputs.env.CLAW_HEARTBEATS_DIR;
  const [roster, health, book] = wanted
    ? await Promise.all([import('../config/roster.js'), import('../heartbeat/health.js'), import('../cron/schedule-book.js')])
    : [];
  const schedules = book ? await book.readScheduleBook(store) : undefined;
  const agents = roster && schedules ? (await roster.loadRoster(dir, schedules, inputs.now())).agents : undefined;
  const gateways = allGateways(config);
  const configured = new Set(gateways.map((g) => g.name));
  // Gateways seen in traffic but not configured are unknown, hence unlimited.
  for (const name of await store.knownGateways()) if (!configured.has(name)) gateways.push(toGateway(name, undefined));
  const now = inputs.now();
  const healthOf = agents && health && schedules ? await health.agentHealth(store, agents, now, schedules) : [];
  if (book && schedules) await book.saveScheduleBook(store, schedules);
  return {
    ok: true,
    store: { kind: store.kind, location: store.location, ...(store.note ? { note: store.note } : {}) },
    gateways: await Promise.all(gateways.map(async (g) => ({ ...(await gatewayReport(store, g, now)), ...(await proxyGatewayStatus(store, g)) }))),
    roster: agents ? dir : null,
    agents: healthOf.map((h, i) => ({ ...h, gateway: resolveGateway(config, { model: agents![i]!.model }).name })),
    cache: await cacheStats(store),
    workboard: workboardPath(inputs.env, config.workboard?.read ?? 'auto'),
  };
}

/** Agents `status --check` reports (exit 75). */
export function unwellAgents(doc: StatusDocument): StatusDocument['agents'] {
  return doc.agents.filter((a) => a.health === 'late' || a.health === 'failing');
}
