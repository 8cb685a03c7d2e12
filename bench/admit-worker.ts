// One benchmark process: admits through a store (SQLite by default, Redis when given a URL) in a
// loop for a fixed time and reports how many admissions it made and the latency of each.
import { SqliteStore } from '../src/store/sqlite.js';
import { RedisStore } from '../src/store/redis.js';
import { toGateway } from '../src/limiter/gateways.js';
import { uniqueId } from '../src/id.js';
import type { Store } from '../src/store/types.js';

const [target, durationMs, startAt, prefix] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]), process.argv[5] ?? 'bench:'];
// Wide enough that the limit never binds: this measures the store, not the limit.
const gateway = toGateway('bench', { limit: 10_000_000, window: '100ms', margin: 0 });

async function main(): Promise<void> {
  const store: Store = target.startsWith('redis://') ? await RedisStore.connect({ url: target, prefix }) : new SqliteStore({ dir: target, clock: Date.now });
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
  const latencies: number[] = [];
  let admitted = 0;
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    const result = await store.admit({ gateway, priority: 3, waiterId: uniqueId(), leaseMs: 1500, queue: false });
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (result.admitted) admitted++;
  }
  await store.close();
  process.stdout.write(JSON.stringify({ admitted, attempts: latencies.length, latencies }));
}

void main();
