import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // Integration tests spawn real processes; a 2-core CI machine is slow and noisy,
    // so tests wait on events with generous deadlines rather than on fixed sleeps.
    testTimeout: 60_000,
    // Vitest runs one file at a time on a 2-core machine (cores - 1). Most of a file's time is
    // spent waiting on real processes, graces and timers, not computing: three at a time took
    // the suite from about 5 to about 2 minutes there.
    maxWorkers: 3,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
