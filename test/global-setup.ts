// Redis for the store-parameterised tests: CLAW_TEST_REDIS_URL (set by .ci/run), else a
// redis-server started here when one is installed. In CI a missing Redis is an error, not a skip.
import { redisAvailable, redisServer, type RedisServer } from './helpers/redis';

let server: RedisServer | undefined;

export async function setup(): Promise<void> {
  if (process.env.CLAW_TEST_REDIS_URL) return;
  if (!redisAvailable()) {
    if (process.env.CI) throw new Error('CI needs Redis: .ci/run installs redis-server and sets CLAW_TEST_REDIS_URL');
    console.warn('redis-server is not installed: the Redis variants of the store tests are skipped (apt-get install redis-server)');
    return;
  }
  server = await redisServer();
  process.env.CLAW_TEST_REDIS_URL = server.url;
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
