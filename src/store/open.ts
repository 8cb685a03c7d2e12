import { UsageError } from '../errors.js';
import { stateDir } from '../config/paths.js';
import type { ClawConfig } from '../config/config.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  env: NodeJS.ProcessEnv;
  config: ClawConfig;
  stateDirFlag?: string;
  clock: () => number;
  /** Where the test hook CLAW_TEST_HOLD_TX_MS says that it holds a transaction open. */
  diagnostics?: { write(text: string): unknown };
}

/** CLAW_STORE (or the `store` config key) selects the store; `sqlite` is the default. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const selected = options.env.CLAW_STORE || options.config.store || 'sqlite';
  if (selected !== 'sqlite') {
    throw new UsageError(`unknown store "${selected.replace(/\/\/[^@/]*@/, '//[redacted]@')}": CLAW_STORE supports "sqlite"`);
  }
  const { SqliteStore } = await import('./sqlite.js');
  const hold = Number(options.env.CLAW_TEST_HOLD_TX_MS ?? 0);
  return new SqliteStore({
    dir: stateDir(options.env, options.stateDirFlag),
    clock: options.clock,
    ...(hold > 0 ? { holdTransactionMs: hold, onHold: () => options.diagnostics?.write('claw: test hook: holding a store transaction open\n') } : {}),
  });
}
