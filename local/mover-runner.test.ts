import { describe, expect, it } from 'vitest';
import { moverJob } from '../src/data/index.ts';
import { claimOf, hostDatabaseName, kindOf, type MoverPod, moverInvocation, secretsOf, servedNamespace, terminatedStatus, terminationMessage } from './mover-runner.ts';

/** The pod a mover Job makes: its template, as the Job controller copies it. */
function podOf(job: ReturnType<typeof moverJob>, name = 'backup-db-1-abcde'): MoverPod {
  const template = (job as unknown as { spec: { template: { metadata: { labels: Record<string, string> }; spec: MoverPod['spec'] } } }).spec.template;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: job.metadata.namespace, labels: template.metadata.labels }, spec: template.spec, status: { phase: 'Running' } };
}

const base = { owner: 'nightly', ownerNamespace: 'demo', environment: 'main', namespace: 'shop-main', movers: { image: 'grove:1', namespace: 'grove-system' }, labels: {} };
const dbJob = moverJob({ ...base, action: 'backup', target: { name: 'db', kind: 'postgresql', credentialsSecret: 'db-credentials', port: 5432 } });
const dbBackup = podOf(dbJob);
const filesJob = moverJob({ ...base, action: 'restore', snapshotId: 'abc123', target: { name: 'web-uploads', kind: 'files', claimName: 'restore-web-uploads-1' } });
const filesRestore = podOf(filesJob, 'restore-web-uploads-1-xyz');
const repository = { RESTIC_REPOSITORY: 's3:http://minio/bucket/grove/restic/demo/shop', RESTIC_PASSWORD: 'pw', AWS_ACCESS_KEY_ID: 'key' };
const secrets = {
  [filesJob.metadata.name as string]: repository,
  [dbJob.metadata.name as string]: { ...repository, DB_HOST: 'db.shop-main.svc', DB_PORT: '5432', DB_USER: 'app', DB_PASSWORD: 'secret', DB_NAME: 'app' },
};

describe('what the mover runner reads from a mover pod', () => {
  it('finds the Secrets, the kind, the claim and the namespace whose data it moves', () => {
    expect(secretsOf(dbBackup)).toEqual([dbJob.metadata.name]);
    expect(kindOf(dbBackup)).toBe('postgresql');
    expect(claimOf(dbBackup)).toBeUndefined();
    expect([dbBackup.metadata.namespace, servedNamespace(dbBackup)]).toEqual(['grove-system', 'shop-main']);
    expect(servedNamespace(filesRestore)).toBe('shop-main');
    expect(secretsOf(filesRestore)).toEqual([filesJob.metadata.name]);
    expect(kindOf(filesRestore)).toBe('files');
    expect(claimOf(filesRestore)).toBe('restore-web-uploads-1');
  });
});

describe('moverInvocation', () => {
  it('runs a database backup against the host\'s server, with the result in the work directory', () => {
    const inv = moverInvocation(dbBackup, secrets, { work: '/w', database: { host: '127.0.0.1', port: 5433, username: 'grove', password: 'su', name: 'shop_main_db' } }, '/usr/bin');
    expect(inv.args).toEqual(['mover', 'backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'nightly', '--environment', 'main', '--result-file', '/w/backup-db-1-abcde.result']);
    expect(inv.resultFile).toBe('/w/backup-db-1-abcde.result');
    expect(inv.env).toMatchObject({
      PATH: '/usr/bin',
      HOME: '/w',
      RESTIC_CACHE_DIR: '/w/restic-cache',
      TMPDIR: '/w',
      RESTIC_REPOSITORY: 's3:http://minio/bucket/grove/restic/demo/shop',
      RESTIC_PASSWORD: 'pw',
      DB_HOST: '127.0.0.1',
      DB_PORT: '5433',
      DB_USER: 'grove',
      DB_PASSWORD: 'su',
      DB_NAME: 'shop_main_db',
    });
  });

  it('keeps the Secret\'s database when the host names none, and maps /data to the volume\'s directory', () => {
    expect(moverInvocation(dbBackup, secrets, { work: '/w' }).env).toMatchObject({ DB_HOST: 'db.shop-main.svc', DB_USER: 'app', DB_NAME: 'app' });
    const inv = moverInvocation(filesRestore, secrets, { work: '/w', dataDir: '/csi/state/vol-1' });
    expect(inv.args).toEqual(['mover', 'restore', '--name', 'web-uploads', '--kind', 'files', '--path', '/csi/state/vol-1', '--snapshot', 'abc123', '--replace']);
    expect(inv.resultFile).toBeUndefined();
    expect(inv.env.DB_HOST).toBeUndefined();
  });

  it('refuses a pod whose Secret it was not given', () => {
    expect(() => moverInvocation(dbBackup, { [filesJob.metadata.name as string]: {} }, { work: '/w' })).toThrow(`Secret ${dbJob.metadata.name} of pod backup-db-1-abcde was not given`);
  });
});

describe('the host database of a service', () => {
  it('is one per namespace and service, a plain identifier of at most 63 bytes', () => {
    expect(hostDatabaseName('shop-main', 'db')).toBe('shop_main_db');
    expect(hostDatabaseName('shop-demo-welcome-53023447', 'db')).toBe('shop_demo_welcome_53023447_db');
    expect(hostDatabaseName('1abc', 'db')).toBe('_1abc_db');
    expect(hostDatabaseName('x'.repeat(70), 'db')).toHaveLength(63);
  });
});

describe('a finished pod\'s status', () => {
  it('says what a kubelet says: phase, exit code, reason and message', () => {
    expect(terminatedStatus(dbBackup, 0, '{"name":"db"}', '2026-12-01T00:00:00.000Z')).toEqual({
      phase: 'Succeeded',
      containerStatuses: [
        {
          name: 'mover',
          image: 'grove:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { terminated: { exitCode: 0, reason: 'Completed', message: '{"name":"db"}', startedAt: '2026-12-01T00:00:00.000Z', finishedAt: '2026-12-01T00:00:00.000Z' } },
        },
      ],
    });
    expect(terminatedStatus(dbBackup, 1, 'boom', 'now')).toMatchObject({ phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 1, reason: 'Error' } } }] });
  });

  it('keeps the end of a long message, where the error is', () => {
    const message = terminationMessage(`${'x'.repeat(5000)}the error`);
    expect(message).toHaveLength(4000);
    expect(message.endsWith('the error')).toBe(true);
  });
});
