// For `claw doctor`: can the configured Redis be reached, and does it keep its data over a restart?
// Loaded (with the ioredis bundle) only when a Redis store is configured.
import Redis from 'ioredis';
import { redactStoreUrl } from '../store/open.js';
import type { RedisProbe } from './checks.js';

export async function probeRedis(url: string, timeoutMs: number): Promise<RedisProbe> {
  let lastError: Error | undefined;
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    disconnectTimeout: 100,
    retryStrategy: () => null,
  });
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  const redact = (text: string) => redactStoreUrl(text).split(url).join(redactStoreUrl(url));
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      return { reachable: false, error: redact((lastError ?? (err as Error)).message) };
    }
    const probe: RedisProbe = { reachable: true };
    try {
      const info = await redis.info('server');
      const version = /redis_version:(\S+)/.exec(info)?.[1];
      if (version) probe.version = version;
    } catch {
      // INFO may be renamed away too: the version is only for the detail
    }
    try {
      const appendonly = (await redis.config('GET', 'appendonly')) as string[];
      const save = (await redis.config('GET', 'save')) as string[];
      probe.aof = appendonly[1] === 'yes';
      probe.save = save[1] ?? '';
    } catch (err) {
      probe.configRefused = redact((err as Error).message);
      try {
        const aof = /aof_enabled:(\d)/.exec(await redis.info('persistence'))?.[1];
        if (aof === '1') probe.aof = true;
        else if (aof === '0') probe.aof = false;
      } catch {
        // unknown
      }
    }
    return probe;
  } finally {
    redis.disconnect();
  }
}
