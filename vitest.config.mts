import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Checks PostgreSQL and starts the local Kafka broker unless KAFKA_BROKERS points at one.
    globalSetup: ['test/global-setup.ts'],
    // Test files share one PostgreSQL server and one Kafka broker; each file uses its own database and topic.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
