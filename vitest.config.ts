import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    // Integration files share one real Prefect server and the 2-core machine.
    fileParallelism: true,
    // Unit files mostly wait (real Retry-After seconds): more of them at once
    // keeps `npm run test:unit` short; integration files share two cores.
    maxWorkers: process.env.CONNECTOR_SYNC_UNIT_ONLY === '1' ? 4 : 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
