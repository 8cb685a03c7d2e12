// Reading the files a user hands claw (config, roster) without ever blocking on one: a FIFO or a
// device named config.json would hang a plain read forever.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/**
 * The text of `file`, or undefined when it does not exist. Opened without blocking and read only
 * when it is a regular file; anything else (a FIFO, a directory, a device) is a ConfigError.
 */
export function readRegularFile(file: string, what: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${what} ${file} (${code ?? (err as Error).message}); check its permissions`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      const kind = stat.isFIFO() ? 'a FIFO' : stat.isDirectory() ? 'a directory' : 'a device or socket';
      throw new ConfigError(`${what} ${file} is ${kind}, not a JSON file: replace it with a regular file`);
    }
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}
