import { ConfigError, UnavailableError } from '../errors.js';
import { stateDir } from '../config/paths.js';
import { runRetentionMs, type ClawConfig } from '../config/config.js';
import type { Store } from './types.js';
import { redactStoreUrl, storeUrlProblem } from '../redact.js';
// Kept here for the modules that import it from the store.
export { redactStoreUrl } from '../redact.js';

export interface OpenStoreOptions {
  env: NodeJS.ProcessEnv;
  config: ClawConfig;
  stateDirFlag?: string;
  clock: () => number;
  /** Where warnings go (a fallback to the local store), and the test hook CLAW_TEST_HOLD_TX_MS says it holds. */
  diagnostics?: { write(text: string): unknown };
}

async function openSqlite(options: OpenStoreOptions, note?: string): Promise<Store> {
  const { SqliteStore } = await import('./sqlite.js');
  const hold = Number(options.env.CLAW_TEST_HOLD_TX_MS ?? 0);
  return new SqliteStore({
    dir: stateDir(options.env, options.stateDirFlag),
    clock: options.clock,
    runRetentionMs: runRetentionMs(options.config),
    env: options.env,
    ...(note ? { note } : {}),
    ...(hold > 0 ? { holdTransactionMs: hold, onHold: () => options.diagnostics?.write('claw: test hook: holding a store transaction open\n') } : {}),
  });
}

/** CLAW_STORE (or the `store` config key) selects the store: `sqlite` (default) or a redis:// URL. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const selected = options.env.CLAW_STORE || options.config.store || 'sqlite';
  if (selected === 'sqlite') return openSqlite(options);
  const problem = storeUrlProblem(selected);
  if (problem) throw new ConfigError(`${options.env.CLAW_STORE ? 'CLAW_STORE' : 'the store config key'}: ${problem}`);
  const { RedisStore } = await import('./redis.js');
  try {
    return await RedisStore.connect({ url: selected, prefix: options.config.storePrefix ?? 'claw:', runRetentionMs: runRetentionMs(options.config) });
  } catch (err) {
    if (!(err instanceof UnavailableError) || options.config.storeFallback !== 'local') throw err;
    const note = `fallback: ${redactStoreUrl(selected)} was unreachable, so limits hold for this host only`;
    options.diagnostics?.write(`claw: ${err.message.replace(/; start Redis.*$/, '')}; using the local store (limits hold for this host only)\n`);
    return openSqlite(options, note);
  }
}
