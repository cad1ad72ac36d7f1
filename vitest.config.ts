import { defineConfig } from 'vitest/config';

// Integration tests live in one folder per tier of the local cluster (DESIGN §6); a run at tier X
// includes the tests of every tier up to X. The default, and what CI runs, is tier C: everything.
const tier = (process.env.GROVE_TEST_TIER ?? 'c').toLowerCase();
const tiers = ['a', 'b', 'c'].slice(0, ['a', 'b', 'c'].indexOf(tier) + 1);
if (tiers.length === 0) throw new Error(`GROVE_TEST_TIER must be a, b or c (got "${tier}")`);

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: tiers.map((t) => `test/integration/tier-${t}/**/*.test.ts`),
          globalSetup: ['test/integration/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
