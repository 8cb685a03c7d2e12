// Options and parsers for option values shared by commands: each refuses bad input with one line (exit 64).
import { Option } from 'commander';
import { UsageError } from '../../errors.js';
import { parseDuration } from '../../duration.js';
import { parsePriority, type PriorityRank } from '../../priority.js';

export function durationOption(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`${flag}: "${text}" is not a duration; use 500ms, 2s, 10m, 1h or plain seconds`);
  return ms;
}

export function priorityOption(text: string): PriorityRank {
  const rank = parsePriority(text);
  if (rank === undefined) throw new UsageError(`unknown priority "${text}": use urgent, high, normal or low (or 1-4)`);
  return rank;
}

export function countOption(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag}: "${text}" is not a whole number >= 0`);
  return Number(text);
}

export function heartbeatsDirOption(): Option {
  return new Option('--heartbeats-dir <dir>', 'the roster (default: CLAW_HEARTBEATS_DIR, the heartbeatsDir config key, else ./heartbeats)');
}

export function stateDirOption(): Option {
  return new Option('--state-dir <dir>', 'where shared state lives (default: CLAW_STATE_DIR, else ~/.local/state/claw)');
}
