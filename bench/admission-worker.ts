// One admission benchmark process, against SQLite (a state dir) or Redis (a redis:// URL).
//   throughput <target> <durationMs> <startAt> <prefix>: admits in a loop on a gateway whose limit
//     never binds, from startAt for durationMs; reports admissions made and each one's latency.
//   latency <target> <limit> <samples> <prefix>: fills a window of `limit` admissions (1 h window),
//     then asks `samples` times as one waiting process does (same waiter, queued, refused: full);
//     reports each ask's latency. This is the worst case: the window is full.
import { SqliteStore } from '../src/store/sqlite.js';
import { RedisStore } from '../src/store/redis.js';
import { toGateway } from '../src/limiter/gateways.js';
import { uniqueId } from '../src/id.js';
import type { Store } from '../src/store/types.js';

const [mode, target, a, b, prefix] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), process.argv[6] ?? 'bench:'];

function open(): Promise<Store> | Store {
  return target.startsWith('redis://') ? RedisStore.connect({ url: target, prefix }) : new SqliteStore({ dir: target, clock: Date.now });
}

const elapsedMs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function throughput(durationMs: number, startAt: number): Promise<void> {
  // Wide enough that the limit never binds: this measures the store, not the limit.
  const gateway = toGateway('bench', { limit: 10_000_000, window: '100ms', margin: 0 });
  const store = await open();
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
  const latencies: number[] = [];
  let admitted = 0;
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    const result = await store.admit({ gateway, priority: 3, waiterId: uniqueId(), leaseMs: 1500, queue: false });
    latencies.push(elapsedMs(t0));
    if (result.admitted) admitted++;
  }
  await store.close();
  process.stdout.write(JSON.stringify({ admitted, attempts: latencies.length, latencies }));
}

async function latency(limit: number, samples: number): Promise<void> {
  const gateway = toGateway(`full${limit}`, { limit, window: '1h', margin: 0 });
  const store = await open();
  for (let i = 0; i < limit; i++) {
    const r = await store.admit({ gateway, priority: 1, waiterId: uniqueId(), leaseMs: 1500, queue: false });
    if (!r.admitted) throw new Error(`seeding: admission ${i + 1} of ${limit} refused`);
  }
  const waiterId = uniqueId();
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const r = await store.admit({ gateway, priority: 3, waiterId, leaseMs: 1500, queue: true });
    latencies.push(elapsedMs(t0));
    if (r.admitted || r.reason !== 'full') throw new Error(`expected a full window, got ${JSON.stringify(r)}`);
  }
  await store.leaveQueue(gateway.name, waiterId);
  await store.close();
  process.stdout.write(JSON.stringify({ latencies }));
}

void (mode === 'latency' ? latency(a, b) : throughput(a, b));
