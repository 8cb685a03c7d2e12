import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

type Env = NodeJS.ProcessEnv;

/** `--state-dir`, else CLAW_STATE_DIR, else $XDG_STATE_HOME/claw (~/.local/state/claw). */
export function stateDir(env: Env, flag?: string): string {
  if (flag) return flag;
  if (env.CLAW_STATE_DIR) return env.CLAW_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'claw');
}

/** CLAW_CONFIG_DIR, else $XDG_CONFIG_HOME/claw (~/.config/claw). */
export function configDir(env: Env): string {
  if (env.CLAW_CONFIG_DIR) return env.CLAW_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'claw');
}

export function configFile(env: Env): string {
  return join(configDir(env), 'config.json');
}

/** `--heartbeats-dir`, else CLAW_HEARTBEATS_DIR, else the heartbeatsDir config key, else ./heartbeats. */
export function heartbeatsDir(env: NodeJS.ProcessEnv, config: { heartbeatsDir?: string }, cwd: string, flag?: string): string {
  return resolve(cwd, flag ?? env.CLAW_HEARTBEATS_DIR ?? config.heartbeatsDir ?? 'heartbeats');
}
