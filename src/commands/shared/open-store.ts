import type { Context } from './context.js';
import type { ClawConfig } from '../../config/config.js';
import type { Output } from '../../io.js';
import { diagnostic, stderrPaint } from '../../output/colour.js';
import type { Store } from '../../store/types.js';

/** The store a command works on, with warnings (a fallback to the local store) on stderr. */
export async function openCommandStore(ctx: Context, config: ClawConfig, stateDir?: string): Promise<Store> {
  const { openStore } = await import('../../store/open.js');
  // Decided before the store opens: its writers are synchronous, and chalk loads only for a terminal.
  const paint = await stderrPaint(ctx);
  const diagnostics: Output = {
    write: (text: string | Uint8Array) => {
      const line = paint.on && typeof text === 'string' ? /^claw: ([^]*?)\n$/.exec(text) : null;
      return ctx.io.stderr.write(line ? diagnostic(paint, 'warning', line[1]!) : text);
    },
  };
  return openStore({ env: ctx.io.env, config, clock: ctx.io.now, diagnostics, ...(stateDir ? { stateDirFlag: stateDir } : {}) });
}
