// The one place that decides whether claw colours what it prints, and how each kind of word looks.
import type { Output } from '../io.js';

/** What a word says: bad (failing, late, fail), warn (degraded, stale), good (ok, idle), dim (detail). */
export type Tone = 'bad' | 'warn' | 'good' | 'dim';

export interface Paint {
  (tone: Tone | undefined, text: string): string;
  readonly on: boolean;
}

export interface ColourChoice {
  /** Under --json nothing is coloured, whatever the environment says. */
  json?: boolean;
  /** The global --no-color option. */
  noColor?: boolean;
}

/**
 * Colour only for a person: off under --json and with --no-color; FORCE_COLOR forces it on (even
 * through a pipe) and FORCE_COLOR=0 (or false) off; NO_COLOR set to anything but "" turns it off
 * (no-color.org); TERM=dumb has none; else on exactly when the stream is a terminal.
 */
export function colourWanted(stream: Pick<Output, 'isTTY'>, env: NodeJS.ProcessEnv, choice: ColourChoice = {}): boolean {
  if (choice.json || choice.noColor) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export const plain: Paint = Object.assign((_tone: Tone | undefined, text: string) => text, { on: false });

/**
 * The paint for one stream. chalk (its own bundle, dist/chalk.cjs) is loaded only when colour is
 * on: a cron run, a pipe and every --json never parse it.
 */
export async function paintFor(stream: Pick<Output, 'isTTY'>, env: NodeJS.ProcessEnv, choice: ColourChoice = {}): Promise<Paint> {
  if (!colourWanted(stream, env, choice)) return plain;
  const { Chalk } = await import('./chalk.js');
  // Basic 16 colours: all claw uses, and what every terminal that claims colour shows.
  const chalk = new Chalk({ level: 1 });
  const styles: Record<Tone, (text: string) => string> = { bad: chalk.red, warn: chalk.yellow, good: chalk.green, dim: chalk.dim };
  return Object.assign((tone: Tone | undefined, text: string) => (tone && text ? styles[tone](text) : text), { on: true });
}

/** The tone of a word claw prints as a state: an outcome, a health, a check or a source state. */
export function toneOf(word: string): Tone | undefined {
  switch (word) {
    case 'failing':
    case 'late':
    case 'fail':
    case 'failed':
    case 'unavailable':
      return 'bad';
    case 'degraded':
    case 'warn':
    case 'stale':
    case 'deferred':
    case 'skipped':
      return 'warn';
    case 'ok':
    case 'dispatched':
    case 'idle':
    case 'fresh':
      return 'good';
    default:
      return undefined;
  }
}

/** A `claw:` line on stderr: the prefix red for an error, yellow for a warning. */
export function diagnostic(paint: Paint, kind: 'error' | 'warning', message: string): string {
  return `${paint(kind === 'error' ? 'bad' : 'warn', 'claw:')} ${message}\n`;
}

/** What a command knows about colour: its IO, the global --no-color and its own --json. */
export interface OutputContext {
  io: { stdout: Output; stderr: Output; env: NodeJS.ProcessEnv };
  noColor: boolean;
  json: boolean;
}

export const stdoutPaint = (ctx: OutputContext) => paintFor(ctx.io.stdout, ctx.io.env, { json: ctx.json, noColor: ctx.noColor });
export const stderrPaint = (ctx: OutputContext) => paintFor(ctx.io.stderr, ctx.io.env, { json: ctx.json, noColor: ctx.noColor });
