import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One process per file: the addon keeps process-wide state (thread pool, allocator).
    pool: 'forks',
    testTimeout: 60_000,
  },
});
