// Starts one local cluster for the whole integration run and stops it afterwards, whether the
// tests passed or not. The state directory is fixed per user, so a run that was killed outright
// has its processes stopped by the next run before anything starts.
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { defaultCacheDir } from '../../src/local/build.ts';
import { type ClusterState, down, up } from '../../src/local/cluster.ts';
import { parseTier } from '../../src/local/components.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterState;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tier = parseTier(process.env.GROVE_TEST_TIER ?? 'c');
  const dir = join(tmpdir(), `grove-test-cluster-${userInfo().uid}`);
  const progress = (line: string): void => void process.stderr.write(`[cluster] ${line}\n`);
  await down(dir, () => undefined);
  const cluster = await up({ dir, tier, cacheDir: defaultCacheDir(), progress });
  project.provide('cluster', cluster);
  return async () => {
    await down(dir, () => undefined);
  };
}
