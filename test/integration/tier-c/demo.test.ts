// `npm run demo -- --short` end to end on the shared local cluster, as CI runs it: the command
// reuses the running cluster, starts its own operator (scoped to namespace `demo`), PostgreSQL
// and mover runner, pushes a branch of examples/shop, and reports. What a user cares about is
// checked in the cluster and in MinIO, not only in the output. The demo's processes are stopped
// at the end; its namespace and its Environments' namespaces (shop-…) are its own.
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
import { isRunning } from '../../../local/processes.ts';
import { cluster, conditionStatus, kube } from '../helpers.ts';
import { secretData } from '../movers.ts';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../../../local/main.ts', import.meta.url));
const api = 'grove.dev/v1alpha1';

let result: { code: number; stdout: string; stderr: string };
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'grove-demo-'));
  try {
    const { stdout, stderr } = await run(process.execPath, [main, 'demo', '--tier', 'c', '--dir', cluster().dir, '--short'], { maxBuffer: 16 * 1024 * 1024 });
    result = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    result = { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}, 300_000);

afterAll(async () => {
  await stopAddons(cluster().dir, () => undefined, ['demo-operator', 'demo-mover-runner', 'demo-postgres']);
  await rm(work, { recursive: true, force: true });
});

describe('npm run demo --short', () => {
  it('exits 0 with the branch Environment Ready, cloned through a Backup whose snapshots are in MinIO', async () => {
    expect(result.stderr).toContain('• ');
    expect(result.code, result.stderr).toBe(0);

    const name = environmentName(DEMO_PROJECT, DEMO_BRANCH);
    const env = (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: DEMO_NAMESPACE, name }))!;
    expect(conditionStatus(env, 'Ready')).toBe('True');
    expect(env.spec.branch).toBe(DEMO_BRANCH);
    const lineage = env.status?.lineage ?? [];
    expect(lineage.map((l) => [l.volume, l.source, l.parent])).toEqual([
      ['db', 'backup', environmentName(DEMO_PROJECT, 'main')],
      ['web-uploads', 'backup', environmentName(DEMO_PROJECT, 'main')],
    ]);

    const backupName = lineage[0]!.backup!;
    const backup = (await kube().get<Backup>({ apiVersion: api, kind: 'Backup', namespace: DEMO_NAMESPACE, name: backupName }))!;
    expect(conditionStatus(backup, 'Ready')).toBe('True');
    expect(lineage.map((l) => l.snapshotId).sort()).toEqual(backup.status!.volumes!.map((v) => v.snapshotId).sort());

    // Really in MinIO: restic lists exactly the Backup's snapshots.
    const minio = cluster().minio!;
    const password = (await secretData(DEMO_NAMESPACE, 'restic')).password!;
    const access = { endpoint: minio.url, bucket: DEMO_BUCKET, prefix: 'grove', region: 'us-east-1', forcePathStyle: true, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, resticPassword: password };
    const snapshots = await new Restic(repositoryOf(access, DEMO_NAMESPACE, DEMO_PROJECT), { cacheDir: join(work, 'restic-cache') }).snapshots({ backup: backupName });
    expect(snapshots.map((s) => s.id).sort()).toEqual(backup.status!.volumes!.map((v) => v.snapshotId).sort());

    // The summary: the Environment, its lineage, the Backup, and how to go on and how to stop.
    expect(result.stdout).toContain(name);
    expect(result.stdout).toContain(`Backup ${backupName}`);
    for (const v of backup.status!.volumes!) expect(result.stdout).toContain(v.snapshotId);
    // The repository is on the cluster's Gitea, which told Grove of the push and shows Grove's status.
    expect(result.stdout).toContain(`git clone ${cluster().gitea!.url}/${cluster().gitea!.username}/${DEMO_PROJECT}.git`);
    expect(result.stdout).toMatch(new RegExp(`What the Git host shows for ${DEMO_BRANCH} at [0-9a-f]{12} \\(Grove's commit status grove/${name}\\):\n  success: Environment ${name} is ready`));
    expect(result.stdout).toContain('git push origin HEAD:feature/x');
    expect(result.stdout).toContain(`export KUBECONFIG=${cluster().kubeconfig}`);
    expect(result.stdout).toContain(`get environments -n ${DEMO_NAMESPACE} -w`);
    expect(result.stdout).toContain(`npm run local -- down --dir ${cluster().dir}`);
  });

  it('leaves its operator running, scoped to its own namespace, for the user\'s own pushes', async () => {
    const addons = (await readState(cluster().dir))?.addons ?? [];
    const operator = addons.find((a) => a.name === 'demo-operator');
    expect(operator && isRunning(operator)).toBe(true);
    expect(operator!.command).toEqual(expect.arrayContaining(['--namespace', DEMO_NAMESPACE]));
    expect(addons.map((a) => a.name).sort()).toEqual(['demo-mover-runner', 'demo-operator', 'demo-postgres']);
  });
});
