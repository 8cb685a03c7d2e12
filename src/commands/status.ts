import type { Command } from 'commander';
import type { Context } from '../cli.js';
import { stateDirOption } from './options.js';
import type { GatewayReport } from '../limiter/report.js';
import { formatDuration } from '../duration.js';

interface RawStatusOptions {
  json?: boolean;
  stateDir?: string;
}

export interface StatusDocument {
  ok: true;
  store: { kind: string; location: string };
  gateways: GatewayReport[];
}

export function formatStatus(doc: StatusDocument, now: number): string {
  const header = ['GATEWAY', 'LIMIT', 'USED', 'FREE', 'NEXT FREE', 'WAITING u/h/n/l', 'BLOCKED', 'ADMITTED', 'WAIT p50/p95', 'FALLBACK', 'DROPPED', '429s', 'RETRIES'];
  const rows = doc.gateways.map((g) => [
    g.name,
    g.limited ? `${g.limit}/${formatDuration(g.windowMs!)}` : 'unlimited',
    String(g.used),
    g.free === null ? '-' : String(g.free),
    g.nextFreeAt ? `in ${formatDuration(Math.max(0, Date.parse(g.nextFreeAt) - now))}` : '-',
    `${g.waiters.urgent}/${g.waiters.high}/${g.waiters.normal}/${g.waiters.low}`,
    g.blockedUntil ? `${formatDuration(Math.max(0, Date.parse(g.blockedUntil) - now))} left` : '-',
    String(g.counters.admitted),
    `${g.waitedMs.p50 === null ? '-' : formatDuration(g.waitedMs.p50)}/${g.waitedMs.p95 === null ? '-' : formatDuration(g.waitedMs.p95)}`,
    String(g.counters.fallbacks),
    String(g.counters.dropped),
    String(g.counters.rateLimited),
    String(g.counters.retries),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`store: ${doc.store.kind} ${doc.store.location}`, '', line(header), ...rows.map(line)].join('\n') + '\n';
}

export function registerStatus(program: Command, ctx: Context): void {
  program
    .command('status')
    .summary('show the limits, queues and counters every claw process shares')
    .description(
      'Per gateway: limit and window, used in the current window, free now, when the next slot frees,\n' +
        'live waiters by priority, the 429 back-off (blocked until), and counters kept in the store.',
    )
    .option('--json', 'print one stable JSON document')
    .addOption(stateDirOption())
    .addHelpText('after', '\nExamples:\n  claw status\n  claw status --json | jq \'.gateways[] | select(.name=="nvidia")\'')
    .action(async (raw: RawStatusOptions) => {
      const [{ loadConfig }, { openStore }, { allGateways, toGateway }, { gatewayReport }] = await Promise.all([
        import('../config/config.js'),
        import('../store/open.js'),
        import('../limiter/gateways.js'),
        import('../limiter/report.js'),
      ]);
      const config = loadConfig(ctx.io.env);
      const store = await openStore({ env: ctx.io.env, config, clock: ctx.io.now, diagnostics: ctx.io.stderr, ...(raw.stateDir ? { stateDirFlag: raw.stateDir } : {}) });
      try {
        const gateways = allGateways(config);
        const configured = new Set(gateways.map((g) => g.name));
        // Gateways seen in traffic but not configured are unknown, hence unlimited.
        for (const name of await store.knownGateways()) if (!configured.has(name)) gateways.push(toGateway(name, undefined));
        const doc: StatusDocument = {
          ok: true,
          store: { kind: store.kind, location: store.location },
          gateways: await Promise.all(gateways.map((g) => gatewayReport(store, g))),
        };
        ctx.io.stdout.write(raw.json ? `${JSON.stringify(doc, null, 2)}\n` : formatStatus(doc, ctx.io.now()));
      } finally {
        await store.close();
      }
    });
}
