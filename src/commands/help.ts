import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { exitCodeTable, UsageError } from '../errors.js';

export function formatExitCodes(): string {
  const lines = exitCodeTable.map(([code, name, meaning]) => `  ${String(code).padEnd(4)}${name.padEnd(19)}${meaning}`);
  return (
    [
      'claw exit codes (sysexits):',
      ...lines,
      "  other: `claw call -- <command>` exits with the wrapped command's own code (128+N when killed by signal N).",
      'Under --json a failure prints {"ok":false,"error":{"type":...,"message":...}} on stdout.',
    ].join('\n') + '\n'
  );
}

export function registerHelp(program: Command, ctx: Context): void {
  program
    .command('help')
    .description('show help for claw, a command, or a topic (exit-codes)')
    .argument('[topic...]', 'a command name or "exit-codes"')
    .action((topic: string[]) => {
      if (topic.length === 0) {
        ctx.io.stdout.write(program.helpInformation());
        return;
      }
      if (topic[0] === 'exit-codes') {
        ctx.io.stdout.write(formatExitCodes());
        return;
      }
      let command: Command | undefined = program;
      for (const name of topic) command = command?.commands.find((c) => c.name() === name);
      if (!command) throw new UsageError(`no help for "${topic.join(' ')}": try \`claw help\` or \`claw help exit-codes\``);
      ctx.io.stdout.write(command.helpInformation());
    });
}
