// How wide the reader's terminal is: COLUMNS when set, else the terminal's own width.
import type { Output } from '../io.js';

export function terminalWidth(out: Pick<Output, 'isTTY' | 'columns'>, env: NodeJS.ProcessEnv): number | undefined {
  const asked = Number(env.COLUMNS);
  if (Number.isInteger(asked) && asked > 0) return asked;
  return out.isTTY ? out.columns || undefined : undefined;
}
