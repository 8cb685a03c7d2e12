import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import type { Check, DoctorDeps, DoctorReport } from '../doctor/checks.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { plain, stdoutPaint, toneOf, type Paint } from '../output/colour.js';
import { writeJson } from '../output/json.js';
import { columnStart, renderTable, type Column } from '../output/table.js';

interface RawDoctorOptions {
  json?: boolean;
  stateDir?: string;
  heartbeatsDir?: string;
}

function table(checks: Check[], paint: Paint): string[] {
  const columns: Column[] = [{ header: 'STATUS' }, { header: 'CHECK' }, { header: 'DETAIL' }];
  const rows = checks.map((c) => [{ text: c.status, tone: toneOf(c.status) }, c.name, c.detail]);
  const [header, ...lines] = renderTable(columns, rows, { paint });
  const indent = ' '.repeat(columnStart(columns, rows, 2));
  return [header!, ...lines.flatMap((line, i) => (checks[i]!.fix ? [line, `${indent}${paint('dim', 'fix:')} ${checks[i]!.fix}`] : [line]))];
}

export function formatDoctor(report: DoctorReport, tty: boolean, paint: Paint = plain): string {
  const lines = tty
    ? table(report.checks, paint)
    : report.checks.map((c) => `${paint(toneOf(c.status), c.status.padEnd(4))} ${c.name}: ${c.detail}${c.fix ? `; fix: ${c.fix}` : ''}`);
  const count = (status: Check['status']) => {
    const n = report.checks.filter((c) => c.status === status).length;
    return paint(n > 0 ? toneOf(status) : undefined, `${n} ${status}`);
  };
  lines.push('', `${count('ok')}, ${count('warn')}, ${count('fail')}${report.ok ? '' : ` (exit ${report.exitCode})`}`);
  return `${lines.join('\n')}\n`;
}

export function registerDoctor(program: Command, ctx: Context): void {
  program
    .command('doctor')
    .summary('check this host end to end: runtime, store, config, roster, agents, gateways, cron, Redis')
    .description(
      'Checks the host the fleet runs on; prints each check as ok, warn or fail, with the fix for each warn and fail. ' +
        'In order: Node and the SQLite driver; the state dir, its file modes, the store; the config; the roster; ' +
        'per agent its workspace and todo docs; the programs the agents start (openclaw, multica) on PATH and on ' +
        "the installed crontab's PATH, with `openclaw --version` run under each; the API key variable of each gateway " +
        'with a baseUrl (set or not, never its value); the crontab block against the roster; the cron daemon, and ' +
        'whether the block was written for it (CRON_TZ lines or lines in the host zone); Redis: reachable, and whether it persists.\n\n' +
        'Exit: 0 when no check failed (warnings are fine), else the worst failure: 78 when a config check failed ' +
        '(config, roster, an API key, a stale crontab block, or one with CRON_TZ lines under a cron that ignores them), ' +
        'otherwise 69: something needed is unavailable (a program, the store, Redis).',
    )
    .option('--json', 'print {"ok": ..., "checks": [{"name", "status", "detail", "fix"}]}')
    .addOption(stateDirOption())
    .addOption(heartbeatsDirOption())
    .addHelpText('after', '\nExamples:\n  claw doctor\n  claw doctor --json | jq \'.checks[] | select(.status != "ok")\'')
    .action(async (raw: RawDoctorOptions) => {
      const [{ runDoctor }, { configFile }, { sqliteRuntime, isSafeSqliteVersion }, cron] = await Promise.all([
        import('../doctor/checks.js'),
        import('../config/paths.js'),
        import('../store/sqlite-driver.js'),
        import('../cron/crontab.js'),
      ]);
      const env = ctx.io.env;
      const deps: DoctorDeps = {
        env,
        cwd: ctx.io.cwd,
        now: ctx.io.now,
        nodeVersion: process.version,
        sqliteRuntime: () => sqliteRuntime(env),
        isSafeSqliteVersion,
        run: (argv, options) => ctx.io.runner.run(argv, options),
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
            await (
              await import('./cron.js')
            ).buildCronBlock(ctx.io, {
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
        writeJson(ctx.io.stdout, { ok: report.ok, checks });
      } else {
        ctx.io.stdout.write(formatDoctor(report, ctx.io.stdout.isTTY === true, await stdoutPaint(ctx)));
      }
      ctx.exitCode = report.exitCode;
    });
}
