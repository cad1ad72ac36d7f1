// `npm run demo -- --short` on tier D's node, as a user on a machine that can run it gets it:
// nothing stands in for anything. Production and the branch run on the node from the local
// images, the branch is cloned through a Backup that mover pods of Grove's image wrote to MinIO,
// the example's sanitize hook scrubs it, and the page the demo prints answers on this host with
// production's rows. The demo's processes are stopped at the end.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backup, type Environment, environmentName } from '../../../src/api/index.ts';
import { Restic } from '../../../src/data/restic/index.ts';
import { repositoryOf } from '../../../src/data/store/index.ts';
import { readState, stopAddons } from '../../../local/cluster.ts';
import { DEMO_BRANCH, DEMO_BUCKET, DEMO_NAMESPACE, DEMO_PROJECT } from '../../../local/demo-plan.ts';
import { cluster, conditionStatus, kube } from '../helpers.ts';
import { secretData } from '../movers.ts';
import { type Pod, releaseEnvironments } from '../pods.ts';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../../../local/main.ts', import.meta.url));
const api = 'grove.dev/v1alpha1';

let result: { code: number; stdout: string; stderr: string };
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'grove-demo-d-'));
  try {
    const { stdout, stderr } = await run(process.execPath, [main, 'demo', '--dir', cluster().dir, '--short'], { maxBuffer: 16 * 1024 * 1024 });
    result = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    result = { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}, 600_000);

afterAll(async () => {
  await stopAddons(cluster().dir, () => undefined, ['demo-operator', 'demo-port-forward']);
  await releaseEnvironments(DEMO_NAMESPACE);
  await rm(work, { recursive: true, force: true });
});

describe('npm run demo on the real node', () => {
  it('chooses tier D by itself and runs the branch on the node, cloned through a Backup in MinIO', async () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('running on tier C');
    const name = environmentName(DEMO_PROJECT, DEMO_BRANCH);
    const env = (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: DEMO_NAMESPACE, name }))!;
    expect(conditionStatus(env, 'Ready')).toBe('True');
    const lineage = env.status?.lineage ?? [];
    expect(lineage.map((l) => [l.volume, l.source])).toEqual([
      ['cache', 'empty'],
      ['db', 'backup'],
      ['web-uploads', 'backup'],
    ]);
    const backupName = lineage.find((l) => l.volume === 'db')!.backup!;
    const backup = (await kube().get<Backup>({ apiVersion: api, kind: 'Backup', namespace: DEMO_NAMESPACE, name: backupName }))!;
    expect(conditionStatus(backup, 'Ready')).toBe('True');
    // Every volume and database, Redis included, backed up by mover pods that ran on the node.
    expect(backup.status!.volumes!.map((v) => [v.name, v.kind])).toEqual([
      ['cache', 'redis'],
      ['db', 'postgresql'],
      ['web-uploads', 'files'],
    ]);
    const minio = cluster().minio!;
    const password = (await secretData(DEMO_NAMESPACE, 'restic')).password!;
    const access = { endpoint: minio.url, bucket: DEMO_BUCKET, prefix: 'grove', region: 'us-east-1', forcePathStyle: true, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, resticPassword: password };
    const snapshots = await new Restic(repositoryOf(access, DEMO_NAMESPACE, DEMO_PROJECT), { cacheDir: join(work, 'restic-cache') }).snapshots({ backup: backupName });
    expect(snapshots.map((s) => s.id).sort()).toEqual(backup.status!.volumes!.map((v) => v.snapshotId).sort());

    const pods = (await kube().list<Pod>('v1', 'Pod', { namespace: env.status!.namespace! })).items;
    expect(pods.length).toBeGreaterThan(0);
    for (const p of pods) expect(p.spec.nodeName, p.metadata.name).toBe(cluster().node!.name);
  });

  it('prints the branch\'s page, which answers on this host with production\'s rows, sanitised', async () => {
    const url = /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(result.stdout)?.[1];
    expect(url, result.stdout).toBeDefined();
    const page = (await (await fetch(`${url!}?format=json`)).json()) as { branch: string; customerCount: number; customers: Array<{ id: number; email: string }>; uploads: unknown[] };
    expect(page.branch).toBe(DEMO_BRANCH);
    expect(page.customerCount).toBe(120);
    expect(page.uploads).toHaveLength(3);
    for (const c of page.customers) expect(c.email).toBe(`customer-${c.id}@example.invalid`);
    expect(result.stdout).toContain('120 customers, 12 products, 3 uploads');
    // Gitea told Grove of the push, and shows what became of it: success, once the pods answered.
    expect(result.stdout).toMatch(new RegExp(`What the Git host shows for ${DEMO_BRANCH} at [0-9a-f]{12} \\(Grove's commit status grove/${environmentName(DEMO_PROJECT, DEMO_BRANCH)}\\):\n  success: Environment ${environmentName(DEMO_PROJECT, DEMO_BRANCH)} is ready`));
    // Nothing of tier C's stand-ins runs.
    const addons = ((await readState(cluster().dir))?.addons ?? []).map((a) => a.name).sort();
    expect(addons).toEqual(['demo-operator', 'demo-port-forward']);
  });
});
