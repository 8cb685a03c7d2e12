// The commander program: global wiring and the one error -> exit-code map, for the commands it is
// given (src/main.ts gives it every one; build.mjs makes a bundle for each command with just that one).
import { Command, CommanderError } from 'commander';
import { asClawError, ExitCode, UsageError } from './errors.js';
import { processIO, type IO } from './io.js';
import type { Context, Register } from './commands/shared/context.js';
import { clawVersion } from './version.js';
import { diagnostic, stderrPaint } from './output/colour.js';
import { writeJson } from './output/json.js';
import { terminalWidth } from './output/width.js';

/** A command's name and how it adds itself to the program. */
export type Registration = readonly [name: string, register: Register];

/** Only the command being run is built (cron starts claw constantly); help and errors get them all. */
export function buildProgram(ctx: Context, registrations: readonly Registration[], argv: string[] = []): Command {
  const program = new Command('claw')
    .description(
      'One shared rate limit, priority queue and cache for a fleet of OpenClaw agents run from crontab. ' +
        'State lives in a SQLite file (--state-dir, CLAW_STATE_DIR, ~/.local/state/claw) shared by every claw process.',
    )
    .version(clawVersion(), '-V, --version')
    .option('--no-color', 'never colour the output (also NO_COLOR=1; FORCE_COLOR=1 colours even through a pipe)')
    .helpCommand(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void ctx.io.stdout.write(text),
      // Commander's own messages are reformatted in main() into one `claw:` line.
      writeErr: () => undefined,
      // Descriptions are paragraphs: commander wraps them once, to COLUMNS or the terminal's width, else 80.
      getOutHelpWidth: () => terminalWidth(ctx.io.stdout, ctx.io.env) ?? 80,
      getErrHelpWidth: () => terminalWidth(ctx.io.stderr, ctx.io.env) ?? 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    // Option descriptions wrap beside their flags even on a narrow terminal (commander's default gives up under 40).
    .configureHelp({ minWidthToWrap: 24 })
    .hook('preAction', (_program, command) => {
      ctx.noColor = program.opts().color === false;
      ctx.json = command.opts().json === true;
    });
  const named = registrations.find(([name]) => name === argv[0] && name !== 'help');
  for (const [, register] of named ? [named] : registrations) register(program, ctx);
  program.addHelpText('after', '\nExit codes: run `claw help exit-codes`.');
  return program;
}

function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

export async function runCli(registrations: readonly Registration[], argv: string[], io: IO = processIO()): Promise<number> {
  const ctx: Context = { io, exitCode: ExitCode.ok, noColor: false, json: false };
  const program = buildProgram(ctx, registrations, argv);
  // Like gh: `claw` alone shows what it can do, on stdout, and that is not an error.
  if (argv.length === 0) {
    io.stdout.write(program.helpInformation());
    return ExitCode.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    ctx.noColor ||= program.opts().color === false;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      // One line: commander puts its "(Did you mean ...?)" suggestion on a line of its own.
      const message = err.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ');
      const known = registrations.some(([name]) => name === argv[0]);
      return report(ctx, new UsageError(`${message} (see \`claw ${known ? `${argv[0]} ` : ''}--help\`)`), wantsJson(argv));
    }
    return report(ctx, asClawError(err), wantsJson(argv));
  }
}

async function report(ctx: Context, err: ReturnType<typeof asClawError>, json: boolean): Promise<number> {
  ctx.json ||= json;
  if (json) writeJson(ctx.io.stdout, { ok: false, error: { type: err.type, message: err.message, exitCode: err.exitCode } });
  else ctx.io.stderr.write(diagnostic(await stderrPaint(ctx), 'error', err.message));
  return err.exitCode;
}
