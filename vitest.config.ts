import { defineConfig } from 'vitest/config';

// Integration tests live in one folder per tier of the local cluster (DESIGN §6); a run at tier X
// includes the tests of every tier up to X. Tiers A to C share one cluster with simulated (kwok)
// nodes: the fast tests. Tier D's tests get a cluster of their own with a real node, where pods
// run and answer, and run after the others so the two clusters do not compete for the machine.
// The default, and what CI runs, is tier D: everything.
const TIERS = ['a', 'b', 'c', 'd'];
const tier = (process.env.GROVE_TEST_TIER ?? 'd').toLowerCase();
const tiers = TIERS.slice(0, TIERS.indexOf(tier) + 1);
if (tiers.length === 0) throw new Error(`GROVE_TEST_TIER must be one of ${TIERS.join(', ')} (got "${tier}")`);

const integration = {
  globalSetup: ['test/integration/setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'local/**/*.test.ts', 'scripts/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: tiers.filter((t) => t !== 'd').map((t) => `test/integration/tier-${t}/**/*.test.ts`),
          ...integration,
        },
      },
      ...(tiers.includes('d')
        ? [
            {
              test: {
                name: 'node',
                include: ['test/integration/tier-d/**/*.test.ts'],
                ...integration,
                // Real pods start in seconds, not at once; images and volumes make a cold start slower.
                testTimeout: 180_000,
                hookTimeout: 300_000,
                sequence: { groupOrder: 1 },
                // One node of two cores: files side by side would leave each other's pods Pending.
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
