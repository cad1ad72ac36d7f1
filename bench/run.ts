// `npm run bench`: every benchmark, or those named (`npm run bench -- discovery`). Each starts
// its own local cluster and prints its figures; none asserts a time.
import { backupBenchmark } from './backup.ts';
import { convergenceBenchmark } from './convergence.ts';
import { discoveryBenchmark } from './discovery.ts';
import { gitHostBenchmark } from './git-host.ts';
import { lockdownBenchmark } from './lockdown.ts';
import { pushLatencyBenchmark } from './push-latency.ts';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  discovery: discoveryBenchmark,
  'push-latency': pushLatencyBenchmark,
  convergence: convergenceBenchmark,
  backup: backupBenchmark,
  lockdown: lockdownBenchmark,
  'git-host': gitHostBenchmark,
};

const wanted = process.argv.slice(2);
for (const name of wanted) if (!BENCHMARKS[name]) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
for (const [name, bench] of Object.entries(BENCHMARKS)) {
  if (wanted.length && !wanted.includes(name)) continue;
  console.log(`\n=== ${name}`);
  await bench();
}
