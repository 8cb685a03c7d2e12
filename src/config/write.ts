// Writing the user config goes through `conf` (atomic writes, 0600). Only `claw config` loads it.
import Conf from 'conf';
import { configDir } from './paths.js';

export function userConfigStore(env: NodeJS.ProcessEnv): Conf<Record<string, unknown>> {
  return new Conf<Record<string, unknown>>({ projectName: 'claw', cwd: configDir(env), configName: 'config', configFileMode: 0o600 });
}
