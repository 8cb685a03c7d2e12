import { defineConfig } from 'vitest/config';

// Files whose tests measure rolling windows, clock steps or upstream rate limits in real time: they run
// one at a time, after the rest, so no other test takes their cores. Everything else asserts counts,
// orders and outputs, and runs two files at a time.
const timing = [
  'test/e2e/limiter.test.ts',
  'test/e2e/clock.test.ts',
  'test/e2e/http.test.ts',
  'test/e2e/redis.test.ts',
  'test/e2e/blocks.test.ts',
  'test/e2e/proxy.test.ts',
  'test/e2e/proxy-quota.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: timing, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'timing', include: timing, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
