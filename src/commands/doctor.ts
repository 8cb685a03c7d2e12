import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import type { Check, DoctorDeps, DoctorReport } from '../doctor/checks.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';

interface RawDoctorOptions {
  json?: boolean;
  stateDir?: string;
  heartbeatsDir?: string;
}

function table(checks: Check[]): string[] {
  const widths = [Math.max(6, ...checks.map((c) => c.status.length)), Math.max(5, ...checks.map((c) => c.name.length))];
  const out = [`${'STATUS'.padEnd(widths[0]!)}  ${'CHECK'.padEnd(widths[1]!)}  DETAIL`];
  for (const c of checks) {
    out.push(`${c.status.padEnd(widths[0]!)}  ${c.name.padEnd(widths[1]!)}  ${c.detail}`);
    if (c.fix) out.push(`${' '.repeat(widths[0]! + widths[1]! + 4)}fix: ${c.fix}`);
  }
  return out;
}

export function formatDoctor(report: DoctorReport, tty: boolean): string {
  const lines = tty
    ? table(report.checks)
    : report.checks.map((c) => `${c.status.padEnd(4)} ${c.name}: ${c.detail}${c.fix ? `; fix: ${c.fix}` : ''}`);
  const count = (status: Check['status']) => report.checks.filter((c) => c.status === status).length;
  lines.push('', `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail${report.ok ? '' : ` (exit ${report.exitCode})`}`);
  return `${lines.join('\n')}\n`;
}

export function registerDoctor(program: Command, ctx: Context): void {
  program
    .command('doctor')
    .summary('check this host end to end: runtime, store, config, roster, agents, gateways, cron, Redis')
    .description(
      'Checks the host the fleet runs on; prints each check as ok, warn or fail, with\n' +
        'the fix for each warn and fail. In order: Node and the SQLite driver; the state\n' +
        'dir, its file modes, the store; the config; the roster; per agent its workspace\n' +
        'and todo docs; the programs the agents start (openclaw, multica) on PATH and on\n' +
        "the installed crontab's PATH, with `openclaw --version` run under each; the API\n" +
        'key variable of each gateway with a baseUrl (set or not, never its value); the\n' +
        'crontab block against the roster; the cron daemon, and whether the block was\n' +
        'written for it (CRON_TZ lines or lines in the host zone); Redis: reachable,\n' +
        'and whether it persists.\n\n' +
        'Exit: 0 when no check failed (warnings are fine), else the worst failure:\n' +
        '  78  a config check failed (config, roster, an API key, a stale crontab block,\n' +
        '      or one with CRON_TZ lines under a cron that ignores them)\n' +
        '  69  otherwise: something needed is unavailable (a program, the store, Redis)',
    )
    .option('--json', 'print {"ok": ..., "checks": [{"name", "status", "detail", "fix"}]}')
    .addOption(stateDirOption())
    .addOption(heartbeatsDirOption())
    .addHelpText('after', '\nExamples:\n  claw doctor\n  claw doctor --json | jq \'.checks[] | select(.status != "ok")\'')
    .action(async (raw: RawDoctorOptions) => {
      const [{ runDoctor }, { runProcess }, { configFile }, { sqliteRuntime, isSafeSqliteVersion }, cron] =
        await Promise.all([
          import('../doctor/checks.js'),
          import('../proc.js'),
          import('../config/paths.js'),
          import('../doctor/sqlite-runtime.js'),
          import('../cron/crontab.js'),
        ]);
      const env = ctx.io.env;
      const deps: DoctorDeps = {
        env,
        cwd: ctx.io.cwd,
        now: ctx.io.now,
        nodeVersion: process.version,
        sqliteRuntime,
        isSafeSqliteVersion,
        run: (argv, options) => runProcess(argv, options),
        openSqliteStore: async (dir) => {
          const { SqliteStore } = await import('../store/sqlite.js');
          const store = new SqliteStore({ dir, clock: ctx.io.now });
          try {
            await store.now();
            return { location: store.location };
          } finally {
            await store.close();
          }
        },
        probeRedis: async (url, timeoutMs) => (await import('../doctor/redis-probe.js')).probeRedis(url, timeoutMs),
        // What `claw cron print` builds now, by the same code, for the cron and zone the installed
        // block was written for; the check compares its jobs and CLAW_* lines.
        expectedCronBlock: async (roster, target) =>
          (
            await (await import('./cron.js')).buildCronBlock(ctx.io, {
              heartbeatsDir: roster.dir,
              cron: target?.kind ?? 'auto',
              ...(target?.hostZone ? { hostTz: target.hostZone } : {}),
            })
          ).text,
        // Test hook: CLAW_TEST_PROC_ROOT is read instead of /proc to find the cron daemon.
        runningCron: () => cron.runningCron({ ...cron.realHost, procDir: env.CLAW_TEST_PROC_ROOT || '/proc' }),
        hostTimeZone: () => cron.hostTimeZone(env),
        ...(raw.stateDir ? { stateDirFlag: raw.stateDir } : {}),
        ...(raw.heartbeatsDir ? { heartbeatsDirFlag: raw.heartbeatsDir } : {}),
      };
      const report = await runDoctor(deps, configFile(env));
      if (raw.json) {
        const checks = report.checks.map(({ name, status, detail, fix }) => ({ name, status, detail, fix }));
        ctx.io.stdout.write(`${JSON.stringify({ ok: report.ok, checks })}\n`);
      } else {
        ctx.io.stdout.write(formatDoctor(report, ctx.io.stdout.isTTY === true));
      }
      ctx.exitCode = report.exitCode;
    });
}
