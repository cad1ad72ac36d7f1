// Every kind's conditions read as kstatus (cli-utils' status.Compute, what Flux, kpt and
// `kubectl wait`-style tools use) expects, on the real node: Current once an object has converged,
// Failed where only a person's change can help, never "in progress" for ever. The fixture is small
// on purpose (one Redis service, backed up and restored through mover pods) so that every kind has
// a converged object within the test's budget.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, type KubeObject, type Project, type ProjectSpec } from '../../../src/api/index.ts';
import { defaultCacheDir, ensureBinaries } from '../../../local/build.ts';
import { component } from '../../../local/components.ts';
import { SERVICE_IMAGES } from '../../../local/images.ts';
import { internalNetworkArgs } from '../../../local/network.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, conditionStatus, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';
import { image, kubectl, releaseEnvironments } from '../pods.ts';

const api = 'grove.dev/v1alpha1';
const MANIFEST = `version: 1
services:
  cache: { type: "redis:7", size: 64Mi }
`;

let ns: string;
let project: string;
let op: OperatorProcess;

/** Waits for Ready=True; on a timeout the failure shows where the object and its peers stood. */
const ready = async (kind: string, name: string, timeout = 300_000): Promise<void> => {
  try {
    await expect.poll(async () => conditionStatus(await kube().get({ apiVersion: api, kind, namespace: ns, name }), 'Ready'), { timeout, interval: 1000, message: `${kind} ${name} to become Ready` }).toBe('True');
  } catch (err) {
    const objects = JSON.parse(await kubectl('get', 'environments,backups,restores', '-n', ns, '-o', 'json')) as { items: Array<{ kind: string; metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }> };
    const where = objects.items.map((o) => `${o.kind}/${o.metadata.name}: ${(o.status?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`).join('; ')}`);
    const jobs = await kubectl('get', 'jobs,pods,pvc', '-A', '-l', 'grove.dev/environment-namespace', '-o', 'wide').catch((e: unknown) => String(e));
    throw new Error(`${(err as Error).message}\n${where.join('\n')}\n${jobs}`);
  }
};

beforeAll(async () => {
  ns = await testNamespace('kstatus');
  project = `ks${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, `kstatus-${randomBytes(3).toString('hex')}`, 'kstatus');
  const repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.push();
  const spec: ProjectSpec = { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, serviceImages: { ...SERVICE_IMAGES } };
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec });
  op = await startOperator(ns, ['--mover-image', image('grove'), ...internalNetworkArgs(cluster().node!.network)]);
});

afterAll(async () => {
  await op?.kill('SIGKILL');
  await releaseEnvironments(ns);
});

describe('kstatus on every kind', () => {
  it('reads Current once converged, and Failed where only a change can help', { timeout: 480_000 }, async () => {
    const kstatus = (await ensureBinaries([component('kstatus')], { cacheDir: defaultCacheDir(), progress: () => undefined })).get('kstatus') as string;
    const verdicts = async (): Promise<Map<string, { status: string; message: string }>> => {
      const list = await kubectl('get', 'projects,environments,backupstores,backups,restores', '-n', ns, '-o', 'json');
      const lines = (await runWith(kstatus, list)).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; name: string; status: string; message: string });
      return new Map(lines.map((v) => [`${v.kind}/${v.name}`, { status: v.status, message: v.message }]));
    };
    const main = environmentName(project, 'main');
    await ready('Environment', main);
    // One of each kind converged: a Backup of production, restored into a new Environment.
    await kube().create({ apiVersion: api, kind: 'Backup', metadata: { name: 'first', namespace: ns }, spec: { project, environment: main } } as KubeObject);
    await ready('Backup', 'first');
    await kube().create({ apiVersion: api, kind: 'Restore', metadata: { name: 'again', namespace: ns }, spec: { backup: 'first', targetEnvironment: `${project}-again` } } as KubeObject);
    await ready('Restore', 'again');
    await ready('Environment', `${project}-again`);
    const converged = await verdicts();
    console.log(`kstatus, converged:\n${table(converged)}`);
    expect(new Set([...converged.keys()].map((k) => k.split('/')[0]))).toEqual(new Set(['Backup', 'BackupStore', 'Environment', 'Project', 'Restore']));
    for (const [key, verdict] of converged) expect(verdict.status, key).toBe('Current');

    // Only a person's change can help these: kstatus must say Failed, not wait for them for ever.
    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: `${project}-nobranch`, namespace: ns }, spec: { project, branch: 'no-such-branch' } });
    await kube().create({ apiVersion: api, kind: 'Backup', metadata: { name: 'of-nothing', namespace: ns }, spec: { project, environment: `${project}-never-made` } } as KubeObject);
    await kube().create({ apiVersion: api, kind: 'Restore', metadata: { name: 'over-main', namespace: ns }, spec: { backup: 'first', targetEnvironment: main } } as KubeObject);
    const stalled = [`Environment/${project}-nobranch`, 'Backup/of-nothing', 'Restore/over-main'];
    await expect
      .poll(
        async () => {
          const now = await verdicts();
          return stalled.map((k) => now.get(k)?.status);
        },
        { timeout: 90_000, interval: 1000 },
      )
      .toEqual(['Failed', 'Failed', 'Failed']);
    const after = await verdicts();
    console.log(`kstatus, with objects only a change can help:\n${table(after)}`);
    for (const [key, verdict] of after) if (!stalled.includes(key)) expect(verdict.status, key).toBe('Current');
  });
});

function table(verdicts: Map<string, { status: string; message: string }>): string {
  const width = Math.max(...[...verdicts.keys()].map((k) => k.length));
  return [...verdicts].map(([k, v]) => `  ${k.padEnd(width)}  ${v.status}${v.status === 'Current' ? '' : `  ${v.message}`}`).join('\n');
}

/** Runs `bin` with `input` on stdin; its stdout. */
async function runWith(bin: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${bin} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}
