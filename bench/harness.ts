// Shared pieces of the benchmarks: a local cluster of their own, percentiles, a table printer, and
// the address of an operator they started.
import type { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../local/build.ts';
import { type ClusterState, down, up } from '../local/cluster.ts';
import type { Tier } from '../local/components.ts';

export async function benchCluster(tier: Tier): Promise<{ state: ClusterState; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-bench-'));
  const state = await up({ dir, tier, cacheDir: defaultCacheDir(), progress: (l) => console.error(`[cluster] ${l}`) });
  return { state, stop: () => down(dir, () => undefined) };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

export function summary(values: readonly number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  return { n: values.length, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), max: Math.max(...values) };
}

export function table(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(1)) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  console.log(`\n${title}`);
  for (const [i, row] of cells.entries()) {
    console.log(row.map((c, j) => (j === 0 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Where a `grove operator` child process listens, from its first log lines. */
export async function listeningAddress(operator: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`the operator did not start within 30 s: ${buffered.slice(-2000)}`)), 30_000);
    operator.stdout!.on('data', (d: Buffer) => {
      if (buffered === undefined) return; // started: the rest of the log is drained and dropped
      buffered += d.toString();
      const match = /"address":"([^"]+)","msg":"Started the operator"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        buffered = undefined as unknown as string;
        resolve(`http://${match[1]}`);
      }
    });
    operator.once('exit', (code) => reject(new Error(`operator exited with ${code}`)));
  });
}
