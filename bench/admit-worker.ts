// One benchmark process: admits through the SQLite store in a loop for a fixed time and reports
// how many admissions it made and the latency of each (one IMMEDIATE transaction).
import { randomUUID } from 'node:crypto';
import { SqliteStore } from '../src/store/sqlite.js';
import { toGateway } from '../src/limiter/gateways.js';

const [dir, durationMs, startAt] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
// Wide enough that the limit never binds: this measures the store, not the limit.
const gateway = toGateway('bench', { limit: 1000, window: '100ms', margin: 0 });
const store = new SqliteStore({ dir, clock: Date.now });

async function main(): Promise<void> {
while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 1));
const latencies: number[] = [];
let admitted = 0;
const end = Date.now() + durationMs;
while (Date.now() < end) {
  const t0 = process.hrtime.bigint();
  const result = await store.admit({ gateway, priority: 3, waiterId: randomUUID(), leaseMs: 1500, queue: false });
  latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  if (result.admitted) admitted++;
}
await store.close();
process.stdout.write(JSON.stringify({ admitted, attempts: latencies.length, latencies }));
}

void main();
