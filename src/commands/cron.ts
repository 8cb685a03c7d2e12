import { mkdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { Context } from './shared/context.js';
import type { IO } from '../io.js';
import { stateDir } from '../config/paths.js';
import { ConfigError, UsageError } from '../errors.js';
import { heartbeatsDirOption } from './shared/options.js';
import { redactStoreUrl } from '../redact.js';
import { diagnostic, stderrPaint } from '../output/colour.js';

/** A crontab as shown: the value of every `NAME=...` line that may hold a URL password redacted. */
function shownCrontab(text: string): string {
  // `user:password@` or `?password=` (MAILTO=ops@example.com has neither and stays as it is).
  return text.replace(/^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*)(.*(?::.*@|\?.*=).*)$/gm, (_, name: string, value: string) => `${name}${redactStoreUrl(value)}`);
}

export interface RawCronOptions {
  heartbeatsDir?: string;
  logDir?: string;
  dryRun?: boolean;
  cron?: 'auto' | 'honours-tz' | 'ignores-tz';
  hostTz?: string;
}

export function registerCron(program: Command, ctx: Context): void {
  const cron = program
    .command('cron')
    .summary('print or install the crontab for the roster')
    .description(
      'One line per agent (`claw heartbeat <agent>` on its schedule), the poll line every 5 minutes, and ' +
        "a log file per line, written for cron's own environment: a PATH line with the dirs where openclaw, " +
        'multica and the node that runs openclaw were found.\n\n' +
        'For a cron that honours CRON_TZ (cronie) each time zone gets a CRON_TZ line; for one that ignores it (Debian and Ubuntu) ' +
        "a schedule is kept when it fires at the same instants in the host's zone, translated when a fixed offset makes that exact, " +
        'else refused with the reason.\n\n' +
        '`install` replaces the marked block in your crontab and keeps everything else; running it twice changes nothing.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  claw cron print\n  claw cron install --dry-run\n  claw cron install --log-dir /var/log/claw\n  claw cron print --cron ignores-tz --host-tz UTC',
    );

  const cronOptions = (command: Command) =>
    command
      .addOption(heartbeatsDirOption())
      .option('--log-dir <dir>', 'where each line appends its output (default: <state dir>/logs)')
      .addOption(
        new Option(
          '--cron <kind>',
          'whether your cron honours CRON_TZ (cronie) or ignores it (Debian/Ubuntu cron); auto looks at the running daemon and the installed binaries',
        )
          .choices(['auto', 'honours-tz', 'ignores-tz'])
          .default('auto'),
      )
      .option('--host-tz <zone>', 'the zone cron fires in (default: /etc/localtime, /etc/timezone, then TZ)');

  const block = (raw: RawCronOptions) => buildCronBlock(ctx.io, raw);
  const tell = async (lines: { warning: boolean; message: string }[]) => {
    const paint = await stderrPaint(ctx);
    ctx.io.stderr.write(lines.map((l) => (l.warning ? diagnostic(paint, 'warning', l.message) : `claw: ${l.message}\n`)).join(''));
  };

  cronOptions(cron.command('print').description('print the crontab block for the roster')).action(async (raw: RawCronOptions) => {
    const made = await block(raw);
    await tell(made.diagnostics);
    ctx.io.stdout.write(made.display);
  });

  cronOptions(cron.command('install').description("replace claw's block in your crontab (idempotent)"))
    .option('--dry-run', 'print the crontab that would be installed; change nothing')
    .action(async (raw: RawCronOptions) => {
      const { replaceBlock, readCrontab, writeCrontab } = await import('../cron/crontab.js');
      const made = await block(raw);
      await tell(made.diagnostics);
      const current = await readCrontab(ctx.io.runner, ctx.io.env);
      const next = replaceBlock(current, made.text);
      if (raw.dryRun) {
        // Your own lines may hold a password too: every URL password is hidden in what is shown.
        ctx.io.stdout.write(`[dry run] would install this crontab:\n${shownCrontab(replaceBlock(current, made.display))}`);
        return;
      }
      if (next === current) {
        ctx.io.stdout.write('crontab already up to date\n');
        return;
      }
      mkdirSync(made.logDir, { recursive: true, mode: 0o700 });
      await writeCrontab(ctx.io.runner, ctx.io.env, next);
      ctx.io.stdout.write(`installed the claw block (${made.jobs} lines) in your crontab; logs in ${made.logDir}\n`);
    });
}

/** The block `claw cron print|install` writes (and `claw doctor` compares with the installed one). */
export async function buildCronBlock(io: IO, raw: RawCronOptions) {
  const [{ loadConfig }, { heartbeatsDir, loadRoster }, core, { redactStoreUrl }] = await Promise.all([
    import('../config/config.js'),
    import('../config/roster.js'),
    import('../cron/crontab.js'),
    import('../redact.js'),
  ]);
  if (raw.logDir !== undefined && /[\n\r\0]/.test(raw.logDir))
    throw new UsageError('--log-dir cannot contain a newline: cron cannot run a line that holds one');
  if (raw.hostTz !== undefined && !core.validZone(raw.hostTz))
    throw new UsageError(`--host-tz: unknown time zone ${JSON.stringify(raw.hostTz)} (use an IANA name such as UTC or Asia/Shanghai)`);
  const env = io.env;
  const config = loadConfig(env);
  const dir = heartbeatsDir(env, config, io.cwd, raw.heartbeatsDir);
  // No store here: cron print works before any state exists, so the schedules are checked afresh.
  const roster = await loadRoster(dir, { pairs: {}, changed: false }, io.now());
  // cron starts jobs in HOME: a relative dir would mean something else there.
  const logDir = resolve(io.cwd, raw.logDir ?? join(stateDir(env), 'logs'));
  const bin = realpathSync(process.argv[1] ?? 'claw');

  // The programs claw starts: their dirs (and their `#!/usr/bin/env node`'s node) go on cron's PATH.
  const uses = (name: string) => roster.agents.some((a) => a.dispatch[0] === name || a.notify?.[0] === name);
  const programs = [
    ...(roster.agents.some((a) => a.workboard) || uses('openclaw') ? ['openclaw'] : []),
    ...(roster.agents.some((a) => a.multica) || uses('multica') ? ['multica'] : []),
    ...roster.agents.flatMap((a) => [a.dispatch[0]!, ...(a.notify ? [a.notify[0]!] : [])]),
  ];
  const path = core.cronPath(programs, env.PATH ?? '', process.execPath);

  const detected = raw.cron && raw.cron !== 'auto' ? { kind: raw.cron, why: 'set with --cron' } : core.detectCron();
  const host = raw.hostTz ? { zone: raw.hostTz, from: '--host-tz' } : core.hostTimeZone(env);
  const notes = [
    core.cronKindNote(detected.kind, host.zone),
    ...path.found.map((f) => `${f.program}: ${f.path}${f.interpreter ? ` (run by ${f.interpreter})` : ''}`),
    ...path.missing.map(
      (p) => `${p} was not found on PATH when this block was written: under cron it will be "not installed"; install it, then run claw cron install again`,
    ),
    ...path.warnings.map((w) => `warning: ${w}`),
  ];

  const cronModule = await import('../cron/schedule.js');
  const hostLines = new Map<string, import('../cron/crontab.js').HostLine>();
  for (const agent of roster.agents) {
    // cron-parser reads L, W, # and ?; cron does not, and one such line fails the whole crontab.
    const syntax = cronModule.crontabSyntaxProblem(agent.schedule);
    if (syntax) throw new ConfigError(`${agent.file}: schedule: ${syntax}; use plain cron fields`);
    const key = `${agent.tz} ${agent.schedule}`;
    if (detected.kind === 'honours-tz' || hostLines.has(key)) continue;
    const line = cronModule.hostSchedule(agent.schedule, agent.tz, host.zone, io.now());
    if (line.kind !== 'refused') hostLines.set(key, line);
    else {
      const timer = cronModule.onCalendar(agent.schedule, agent.tz);
      hostLines.set(key, {
        kind: 'refused',
        reason:
          `${line.reason}. Instead: use cronie, which honours CRON_TZ (then --cron honours-tz), or a schedule that fires at the same instants in every zone (such as "*/10 * * * *"), ` +
          `or a systemd timer${timer ? ` (${timer})` : ` with OnCalendar=... ${agent.tz}`}`,
      });
    }
  }

  const absolute = (value: string) => resolve(io.cwd, value);
  const lines: [string, string][] = [
    ['PATH', path.dirs.join(':')],
    ['CLAW_HEARTBEATS_DIR', dir],
  ];
  if (env.CLAW_STATE_DIR) lines.push(['CLAW_STATE_DIR', absolute(env.CLAW_STATE_DIR)]);
  if (env.CLAW_CONFIG_DIR) lines.push(['CLAW_CONFIG_DIR', absolute(env.CLAW_CONFIG_DIR)]);
  const store = env.CLAW_STORE;
  if (store) lines.push(['CLAW_STORE', store]);
  const options = { claw: [process.execPath, bin], logDir, env: lines, notes, cron: detected.kind, hostTz: host.zone, hostLines };
  const text = core.crontabBlock(roster, options);
  // What is printed: the real crontab needs the password, a terminal or a log must not see it.
  const redacted = store ? redactStoreUrl(store) : store;
  const display =
    store && redacted !== store
      ? core.crontabBlock(roster, {
          ...options,
          env: lines.map(([k, v]): [string, string] => [k, k === 'CLAW_STORE' ? redacted! : v]),
          notes: [...notes, "CLAW_STORE's password is redacted in this output; `claw cron install` writes the real value"],
        })
      : text;
  // What cron print and install say on stderr, each line after `claw: `.
  const diagnostics = [
    {
      warning: false,
      message: `cron ${detected.kind === 'honours-tz' ? 'honours' : 'ignores'} CRON_TZ (${detected.why}); host zone ${host.zone} (from ${host.from})`,
    },
    ...path.missing.map((p) => ({ warning: true, message: `${p} was not found on PATH: its lines will report it "not installed" under cron` })),
    ...path.warnings.map((w) => ({ warning: true, message: `warning: ${w}` })),
  ];
  return { text, display, logDir, jobs: core.jobLines(text).length, diagnostics };
}
