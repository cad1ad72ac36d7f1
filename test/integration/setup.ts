// Starts one local cluster per test project for the whole run and stops it afterwards, whether the
// tests passed or not: project `integration` gets tiers A to C (kwok nodes), project `node` tier D
// (a real node). State directories are fixed per user and project, so a run that was killed
// outright has its processes stopped by the next run before anything starts.
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { defaultCacheDir } from '../../local/build.ts';
import { type ClusterState, down, up } from '../../local/cluster.ts';
import { parseTier, type Tier } from '../../local/components.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterState;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const node = project.name === 'node';
  const requested = parseTier(process.env.GROVE_TEST_TIER ?? 'd');
  const tier: Tier = node ? 'd' : requested === 'd' ? 'c' : requested;
  const dir = join(tmpdir(), `grove-test-${node ? 'node' : 'cluster'}-${userInfo().uid}`);
  const progress = (line: string): void => void process.stderr.write(`[${project.name}] ${line}\n`);
  await down(dir, () => undefined);
  const cluster = await up({ dir, tier, cacheDir: defaultCacheDir(), progress });
  project.provide('cluster', cluster);
  return async () => {
    await down(dir, () => undefined);
  };
}
