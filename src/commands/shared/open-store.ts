import type { Context } from './context.js';
import type { ClawConfig } from '../../config/config.js';
import { lazyStderr } from '../../io.js';
import type { Store } from '../../store/types.js';

/** The store a command works on, with warnings (a fallback to the local store) on stderr. */
export async function openCommandStore(ctx: Context, config: ClawConfig, stateDir?: string): Promise<Store> {
  const { openStore } = await import('../../store/open.js');
  return openStore({ env: ctx.io.env, config, clock: ctx.io.now, diagnostics: lazyStderr(ctx.io), ...(stateDir ? { stateDirFlag: stateDir } : {}) });
}
