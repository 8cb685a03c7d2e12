import { Option } from 'commander';

export function heartbeatsDirOption(): Option {
  return new Option('--heartbeats-dir <dir>', 'the roster (default: CLAW_HEARTBEATS_DIR, the heartbeatsDir config key, else ./heartbeats)');
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
