// Cloning by VolumeSnapshot on the local cluster's real CSI components (the hostpath driver,
// external-provisioner, snapshot-controller and csi-snapshotter as host processes): a child
// Environment's claims are provisioned from snapshots of its parent's, across namespaces, and
// hold a copy of the parent's files.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Environment, KubeObject, Project } from '../../../src/api/index.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, conditionStatus, kube, testNamespace, volumeDir } from '../helpers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

const MANIFEST = `version: 1
applications:
  web:
    image: shop/web:1
    port: 8080
    relationships: { database: db }
    mounts: { uploads: { path: /app/uploads, size: 1Gi } }
    hooks: { sanitize: [node, scripts/sanitize.js] }
services:
  db: { type: "postgresql:16", size: 1Gi }
`;
const api = 'grove.dev/v1alpha1';
const snapshots = 'snapshot.storage.k8s.io/v1';

let ns: string;
let project: string;
let revision: string;
let op: OperatorProcess;

type Claim = KubeObject & { spec: { volumeName?: string; dataSource?: Record<string, string>; storageClassName?: string }; status?: { phase?: string } };

const environment = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name });

async function digest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length + 1)] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

beforeAll(async () => {
  ns = await testNamespace('snapclone');
  project = `shop${randomBytes(2).toString('hex')}`;
  const repo = await createRepo(cluster().git!.root, project);
  revision = await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.push();
  // No BackupStore: the clone can only come from snapshots of the CSI class.
  await kube().create<Project>({
    apiVersion: api,
    kind: 'Project',
    metadata: { name: project, namespace: ns },
    spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, branches: { include: ['nothing-here'] }, storageClassName: cluster().csi!.storageClass },
  });
  op = await startOperator(ns);
}, 60_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
});

describe('cloning by VolumeSnapshot', () => {
  it('provisions a child\'s claims from snapshots of its parent\'s, with a copy of the files', async () => {
    // Production is the production branch's Environment, made by the Project controller.
    const prod = `${project}-main`;
    await expect.poll(async () => conditionStatus(await environment(prod), 'Ready'), { timeout: 90_000, interval: 500 }).toBe('True');
    const prodNs = prod;
    // Production's data, written into its real volumes.
    const uploads = await volumeDir(prodNs, 'web-uploads');
    const db = await volumeDir(prodNs, 'data-db-0');
    await writeFile(join(uploads, 'cat.jpg'), randomBytes(250_000));
    await mkdir(join(db, 'pgdata', 'base'), { recursive: true });
    await writeFile(join(db, 'pgdata', 'PG_VERSION'), '16\n');
    await writeFile(join(db, 'pgdata', 'base', '16384'), randomBytes(64_000));

    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: 'feature', namespace: ns }, spec: { project, branch: 'main', revision } });
    const childNs = `${project}-feature`;
    const feature = await expect
      .poll(async () => conditionStatus(await environment('feature'), 'Ready'), { timeout: 120_000, interval: 500 })
      .toBe('True')
      .then(() => environment('feature'));
    expect(feature?.status?.conditions?.find((c) => c.type === 'DataCloned')).toMatchObject({ status: 'True', reason: 'Cloned' });
    const lineage = feature?.status?.lineage ?? [];
    expect(lineage.map((l) => [l.volume, l.source, l.parent])).toEqual([
      ['db', 'snapshot', prod],
      ['web-uploads', 'snapshot', prod],
    ]);
    for (const l of lineage) {
      expect(l.snapshot).toMatch(/^clone-/);
      expect(Date.parse(l.time ?? '')).toBeGreaterThan(0);
    }

    // The claims came from the snapshots, and hold the parent's files.
    for (const [claim, volume] of [['web-uploads', 'web-uploads'], ['data-db-0', 'db']] as const) {
      const pvc = await kube().get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: childNs, name: claim });
      expect(pvc?.spec.dataSource).toEqual({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: lineage.find((l) => l.volume === volume)?.snapshot });
      expect(pvc?.spec.storageClassName).toBe('csi-hostpath');
    }
    const childUploads = await volumeDir(childNs, 'web-uploads');
    const childDb = await volumeDir(childNs, 'data-db-0');
    expect(childUploads).not.toBe(uploads);
    expect(await digest(childUploads)).toEqual(await digest(uploads));
    expect(await digest(childDb)).toEqual(await digest(db));
    expect(Object.keys(await digest(childDb))).toContain('pgdata/PG_VERSION');

    // A copy, not a shared volume: the child's changes stay its own.
    await writeFile(join(childUploads, 'cat.jpg'), 'overwritten by an agent');
    expect((await readFile(join(uploads, 'cat.jpg'))).length).toBe(250_000);

    // The clone's temporary snapshots are gone, in both namespaces and cluster-wide.
    await expect.poll(async () => (await kube().list(snapshots, 'VolumeSnapshot', { namespace: prodNs })).items.length, { timeout: 30_000 }).toBe(0);
    expect((await kube().list(snapshots, 'VolumeSnapshot', { namespace: childNs })).items).toEqual([]);
    expect((await kube().list<KubeObject>(snapshots, 'VolumeSnapshotContent')).items.filter((c) => c.metadata.labels?.['grove.dev/clone-for'] === 'feature')).toEqual([]);
  }, 300_000);
});
