import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { ExitCode } from '../errors.js';
import { formatDuration } from '../duration.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { formatProxyStatus } from '../proxy/status.js';
import { diagnostic, plain, stderrPaint, stdoutPaint, toneOf, type Paint } from '../output/colour.js';
import { writeJson } from '../output/json.js';
import { renderTable, type Column } from '../output/table.js';
import { terminalWidth } from '../output/width.js';
import { unwellAgents, type StatusDocument } from '../status/document.js';

interface RawStatusOptions {
  json?: boolean;
  check?: boolean;
  prometheus?: boolean;
  stateDir?: string;
  heartbeatsDir?: string;
}

const right = (header: string): Column => ({ header, align: 'right' });

export function formatStatus(doc: StatusDocument, now: number, paint: Paint = plain, width?: number): string {
  const ago = (iso: string | null) => (iso ? formatDuration(Math.abs(Date.parse(iso) - now)) : '-');
  const out = [
    paint('dim', `store: ${doc.store.kind} ${doc.store.location}${doc.store.note ? ` (${doc.store.note})` : ''}`),
    paint('dim', `workboard: ${doc.workboard.path}: ${doc.workboard.reason}`),
    '',
  ];
  out.push(
    ...renderTable(
      [
        { header: 'GATEWAY' },
        { header: 'LIMIT' },
        right('USED'),
        right('FREE'),
        { header: 'NEXT FREE' },
        { header: 'WAITING u/h/n/l' },
        { header: 'BLOCKED' },
        right('ADMITTED'),
        { header: 'WAIT p50/p95' },
        right('FALLBACK'),
        right('DROPPED'),
        right('429s'),
        right('RETRIES'),
      ],
      doc.gateways.map((g) => [
        g.name,
        g.limited ? `${g.limit}/${formatDuration(g.windowMs!)}` : 'unlimited',
        { text: String(g.used), tone: g.free === 0 ? 'warn' : undefined },
        g.free === null ? '-' : String(g.free),
        g.nextFreeAt ? `in ${ago(g.nextFreeAt)}` : '-',
        `${g.waiters.urgent}/${g.waiters.high}/${g.waiters.normal}/${g.waiters.low}`,
        g.blockedUntil ? { text: `${ago(g.blockedUntil)} left`, tone: 'bad' } : '-',
        String(g.counters.admitted),
        `${g.waitedMs.p50 === null ? '-' : formatDuration(g.waitedMs.p50)}/${g.waitedMs.p95 === null ? '-' : formatDuration(g.waitedMs.p95)}`,
        String(g.counters.fallbacks),
        { text: String(g.counters.dropped), tone: g.counters.dropped > 0 ? 'warn' : undefined },
        { text: String(g.counters.rateLimited), tone: g.counters.rateLimited > 0 ? 'warn' : undefined },
        String(g.counters.retries),
      ]),
      { paint, width },
    ),
  );
  for (const g of doc.gateways.filter((x) => x.block)) {
    const b = g.block!;
    out.push(
      `${paint('bad', 'blocked:')} ${g.name} until ${b.until} (${ago(b.until)} left, ${b.reason === 'quota' ? 'quota' : 'rate limited'}) by ${b.origin}` +
        `${b.message ? `: ${b.message}` : ''}; clear it with \`claw unblock ${g.name}\``,
    );
  }
  out.push(...formatProxyStatus(doc.gateways));
  out.push('');
  if (doc.roster === null) out.push('agents: no roster found (pass --heartbeats-dir or set CLAW_HEARTBEATS_DIR)');
  else {
    out.push(
      ...renderTable(
        [
          { header: 'AGENT' },
          { header: 'SCHEDULE', shrink: true },
          { header: 'LAST RUN' },
          { header: 'OUTCOME' },
          { header: 'NEXT RUN' },
          { header: 'HEALTH' },
          right('PENDING'),
          right('STALLED'),
          right('PAUSED'),
          right('UNSENT'),
        ],
        doc.agents.map((a) => [
          a.agent,
          `${a.schedule} ${a.tz}`,
          a.lastRun ? `${ago(a.lastRun.startedAt)} ago` : 'never',
          { text: a.lastRun?.outcome ?? '-', tone: a.lastRun ? toneOf(a.lastRun.outcome) : undefined },
          `in ${ago(a.nextRunAt)}`,
          { text: a.health, tone: toneOf(a.health) },
          String(a.pending),
          { text: String(a.stalled), tone: a.stalled > 0 ? 'warn' : undefined },
          String(a.paused),
          { text: String(a.unsent.length), tone: a.unsent.length > 0 ? 'warn' : undefined },
        ]),
        { paint, width },
      ),
    );
    for (const a of doc.agents) {
      for (const u of a.unsent)
        out.push(`${paint('warn', 'unsent escalation')} ${a.agent} ${u.condition}: ${u.error ?? 'not sent'}${u.attempts ? ` (${u.attempts} attempt(s))` : ''}`);
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

export function registerStatus(program: Command, ctx: Context): void {
  program
    .command('status')
    .summary("show the limits, the cache and every agent's health")
    .description(
      'Per gateway: limit and window, used in the current window, free now, when the next slot frees, ' +
        'live waiters by priority, the 429 back-off (blocked until, who set it and why; `claw unblock` clears it), ' +
        'and counters kept in the store.\n\n' +
        'Per agent: schedule, last run and outcome, next expected run, health (ok, new, late, running, failing), ' +
        'pending, stalled and paused tasks.\n\n' +
        'The cache: entries per category, fresh or stale, hit rate.',
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
      const [{ loadConfig }, { statusDocument }] = await Promise.all([import('../config/config.js'), import('../status/document.js')]);
      const config = loadConfig(ctx.io.env);
      const store = await openCommandStore(ctx, config, raw.stateDir);
      try {
        const doc = await statusDocument(store, config, { env: ctx.io.env, cwd: ctx.io.cwd, now: ctx.io.now, heartbeatsDirFlag: raw.heartbeatsDir });
        const unwell = unwellAgents(doc);
        const failed = Boolean(raw.check) && unwell.length > 0;
        if (raw.prometheus) ctx.io.stdout.write((await import('../status/prometheus.js')).formatPrometheus(doc));
        else if (raw.json) writeJson(ctx.io.stdout, { ...doc, ok: !failed });
        else
          ctx.io.stdout.write(
            formatStatus(doc, ctx.io.now(), await stdoutPaint(ctx), ctx.io.stdout.isTTY ? terminalWidth(ctx.io.stdout, ctx.io.env) : undefined),
          );
        if (failed) {
          ctx.io.stderr.write(
            diagnostic(
              await stderrPaint(ctx),
              'error',
              `${unwell.length} agent(s) late or failing: ${unwell.map((a) => `${a.agent} (${a.health})`).join(', ')}`,
            ),
          );
          ctx.exitCode = ExitCode.tempFail;
        }
      } finally {
        await store.close();
      }
    });
}
