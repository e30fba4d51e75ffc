import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One process per file: the addon keeps process-wide state (thread pool, allocator).
    pool: 'forks',
    // Memory tests call gc(), and a fixed-size young generation keeps V8's own heap growth out of
    // their RSS readings.
    execArgv: ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'],
    testTimeout: 60_000,
    // The JSON report feeds the plain "N passed, N failed" line that .ci/run prints last.
    reporters: ['default', 'json'],
    outputFile: { json: 'build/vitest-report.json' },
  },
});
