import { chmodSync, mkdirSync } from 'node:fs';
import Conf from 'conf';
import { configDir } from './paths.js';

export function userConfigStore(env: NodeJS.ProcessEnv): Conf<Record<string, unknown>> {
  const dir = configDir(env);
  // Like the state dir: 0700 whatever the umask (conf would create it 0777 minus the umask).
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dir, 0o700);
  return new Conf<Record<string, unknown>>({ projectName: 'claw', cwd: dir, configName: 'config', configFileMode: 0o600 });
}
