import { describe, expect, it } from 'vitest';
import { type Environment, moverJobName } from '../api/index.ts';
import { parseManifest, resolveManifest } from '../manifest/index.ts';
import { backupTargets, moverJob, moverJobSecret } from './jobs.ts';
import { backupsApply, finalBackupApplies, scheduledBackup, typesHeld } from './schedule.ts';
import { waitForServer } from './mover/index.ts';
import { summaryOf } from './restic/index.ts';

const env = (type: Environment['spec']['type'], created = '2026-11-20T12:00:00Z'): Environment => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name: 'shop-main', namespace: 'team', creationTimestamp: created },
  spec: { project: 'shop', branch: 'main', type },
});
const at = (s: string) => Date.parse(s);

describe('scheduledBackup', () => {
  const nightly = { schedule: '0 3 * * *', retain: '14d' };
  it.each([
    ['no backups block', env('production'), undefined, '2026-11-22T03:30:00Z', {}],
    ['a type not listed (default: production only)', env('staging'), nightly, '2026-11-22T03:30:00Z', {}],
    [
      'the latest slot, once the environment existed',
      env('production'),
      nightly,
      '2026-11-22T03:30:00Z',
      { due: { name: 'shop-main-202611220300', slot: at('2026-11-22T03:00:00Z'), retentionSeconds: 14 * 86_400 }, nextAt: at('2026-11-23T03:00:00Z') },
    ],
    ['nothing before the first slot after creation', env('production', '2026-11-22T03:10:00Z'), nightly, '2026-11-22T03:30:00Z', { nextAt: at('2026-11-23T03:00:00Z') }],
    [
      'a listed non-production type, without retention',
      env('staging'),
      { schedule: '@hourly', types: ['staging' as const] },
      '2026-11-22T10:59:59Z',
      { due: { name: 'shop-main-202611221000', slot: at('2026-11-22T10:00:00Z') }, nextAt: at('2026-11-22T11:00:00Z') },
    ],
  ])('%s', (_why, e, backups, now, expected) => {
    expect(scheduledBackup(e, backups, at(now))).toEqual(expected);
  });

  it('gives the same slot the same name however often it is asked (exactly once per slot)', () => {
    const a = scheduledBackup(env('production'), nightly, at('2026-11-22T03:00:00Z'));
    const b = scheduledBackup(env('production'), nightly, at('2026-11-22T23:59:00Z'));
    expect(a.due?.name).toBe(b.due?.name);
  });

  it('serves a slot once: not again after its Backup expired and was collected', () => {
    const served = { ...env('production'), status: { lastScheduledBackupTime: '2026-11-22T03:00:00.000Z' } };
    expect(scheduledBackup(served, nightly, at('2026-11-22T23:00:00Z'))).toEqual({ nextAt: at('2026-11-23T03:00:00Z') });
    expect(scheduledBackup(served, nightly, at('2026-11-23T03:00:00Z')).due?.name).toBe('shop-main-202611230300');
  });

  it('applies to production by default', () => {
    expect(backupsApply(nightly, 'production')).toBe(true);
    expect(backupsApply(nightly, 'development')).toBe(false);
  });
});

describe('the final backup', () => {
  const nightly = { schedule: '0 3 * * *' };
  const demoted = { ...env('development'), status: { typesHeld: ['production' as const] } };
  it('follows every type the Environment has had, not only its last', () => {
    expect(typesHeld(demoted)).toEqual(['production', 'development']);
    expect(finalBackupApplies(nightly, demoted)).toBe(true);
    expect(finalBackupApplies(nightly, env('development'))).toBe(false);
    expect(finalBackupApplies(undefined, demoted)).toBe(false);
  });
  it('records a type once', () => {
    expect(typesHeld({ ...env('production'), status: { typesHeld: ['production' as const] } })).toEqual(['production']);
    expect(typesHeld(env(undefined))).toEqual(['development']);
  });
});

describe('mover Jobs', () => {
  const parsed = parseManifest(`version: 1
applications:
  web: { image: web:1, mounts: { uploads: { path: /u }, cache: { path: /c } } }
services:
  db: { type: "postgresql:16" }
  sessions: { type: "redis:7" }
  legacy: { type: "mysql:8" }
`);
  if (!parsed.ok) throw new Error('fixture manifest is invalid');
  const targets = backupTargets(resolveManifest(parsed.manifest, { type: 'production', commit: 'abc', branch: 'main', environment: 'shop-main' }));

  it('backs up every database with its dump tool and every mount as files', () => {
    expect(targets).toEqual([
      { name: 'db', kind: 'postgresql', credentialsSecret: 'db-credentials', port: 5432 },
      { name: 'legacy', kind: 'mariadb', credentialsSecret: 'legacy-credentials', port: 3306 },
      { name: 'sessions', kind: 'redis', credentialsSecret: 'sessions-credentials', port: 6379 },
      { name: 'web-cache', kind: 'files', claimName: 'web-cache' },
      { name: 'web-uploads', kind: 'files', claimName: 'web-uploads' },
    ]);
  });

  it('names Jobs uniquely per owner, its namespace and volume, within 63 characters', () => {
    const nightly = { namespace: 'team-a', name: 'nightly' };
    expect(moverJobName('backup', nightly, 'db')).not.toBe(moverJobName('backup', { ...nightly, name: 'weekly' }, 'db'));
    expect(moverJobName('backup', nightly, 'db')).not.toBe(moverJobName('backup', { ...nightly, namespace: 'team-b' }, 'db'));
    expect(moverJobName('backup', nightly, 'v'.repeat(80)).length).toBeLessThanOrEqual(63);
  });

  const movers = { image: 'grove:1', namespace: 'grove-system' };
  const base = { owner: 'nightly', ownerNamespace: 'team', environment: 'shop-main', namespace: 'shop-main', movers, labels: {} };

  it('runs restricted, without an API token, with the volume read-only for a backup', () => {
    for (const target of targets) {
      const job = moverJob({ ...base, action: 'backup', target }) as any;
      const pod = job.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(JSON.stringify(pod)).not.toMatch(/hostPath|privileged|hostNetwork/);
      if (target.kind === 'files') expect(pod.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: target.claimName, readOnly: true } });
      else expect(pod.containers[0].env.map((e: { name: string }) => e.name)).toEqual(['RESTIC_CACHE_DIR', 'HOME', 'TMPDIR']);
      // Everything restic writes (cache, temporary packs) goes to the emptyDir: the root is read-only.
      const env = Object.fromEntries(pod.containers[0].env.filter((e: { value?: string }) => e.value).map((e: { name: string; value: string }) => [e.name, e.value]));
      expect(env).toMatchObject({ RESTIC_CACHE_DIR: '/cache', HOME: '/cache', TMPDIR: '/cache' });
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'cache', mountPath: '/cache' });
    }
  });

  it("runs every mover in Grove's namespace, with a Secret of its own, labelled with the namespace whose data it moves", () => {
    for (const action of ['backup', 'restore'] as const) {
      for (const target of targets) {
        const job = moverJob({ ...base, action, target, snapshotId: 'abc' }) as any;
        expect([target.name, job.metadata.namespace]).toEqual([target.name, 'grove-system']);
        expect(job.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'mover', 'grove.dev/target-namespace': 'shop-main' });
        expect(job.spec.template.spec.containers[0].envFrom).toEqual([{ secretRef: { name: job.metadata.name } }]);
        expect(job.spec.template.spec.serviceAccountName).toBeUndefined();
      }
    }
  });

  it('gives a database mover Grove\'s own address for the server, whatever the credentials Secret says', () => {
    const job = moverJob({ ...base, action: 'backup', target: targets[1]! });
    const repo = { location: 's3:http://198.51.100.7:9000/b/grove/restic/team/shop', password: 'pw', env: { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' } };
    // The Environment's admin may rewrite its credentials Secret to point at another server.
    const credentials = { host: 'db.shop-prod.svc', port: '5432', username: 'app', password: 'secret', database: 'shop' };
    const secret = moverJobSecret({ job, target: targets[1]!, namespace: 'shop-main', repo, credentials, jobUid: 'u-1' }) as any;
    expect(secret.metadata).toMatchObject({ name: job.metadata.name, namespace: 'grove-system', ownerReferences: [{ kind: 'Job', name: job.metadata.name, uid: 'u-1' }] });
    expect(secret.stringData).toEqual({ RESTIC_REPOSITORY: repo.location, RESTIC_PASSWORD: 'pw', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', DB_HOST: 'legacy.shop-main.svc', DB_PORT: '3306', DB_USER: 'app', DB_PASSWORD: 'secret', DB_NAME: 'shop' });
  });

  it("reads a database's schema for a rehearsal without the repository's keys and without mounting anything", () => {
    const db = targets[1]!;
    const before = moverJob({ ...base, action: 'schema-before', owner: 'shop-rehearse-abc', target: db }) as any;
    const after = moverJob({ ...base, action: 'schema-after', owner: 'shop-rehearse-abc', target: db }) as any;
    expect(before.metadata.name).not.toBe(after.metadata.name);
    expect(before.spec.template.spec.containers[0].args).toEqual(['mover', 'schema', '--name', db.name, '--kind', db.kind]);
    expect(before.spec.template.spec.volumes).toEqual([{ name: 'cache', emptyDir: {} }]);
    // The Environment's NetworkPolicy admits it by these labels; its Rehearsal follows it by the last.
    expect(before.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'mover', 'grove.dev/target-namespace': 'shop-main', 'grove.dev/rehearsal': 'shop-rehearse-abc' });
    const secret = moverJobSecret({ job: before, target: db, namespace: 'shop-main', credentials: { username: 'app', password: 'secret', database: 'shop' } }) as any;
    expect(Object.keys(secret.stringData)).toEqual(['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME']);
  });

  it('mounts the volume writable for a restore, and names the snapshot', () => {
    const job = moverJob({ ...base, action: 'restore', owner: 'r1', target: targets[4]!, snapshotId: 'abc' }) as any;
    expect(job.spec.template.spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'web-uploads', readOnly: false } });
    expect(job.spec.template.spec.containers[0].args).toEqual(['mover', 'restore', '--name', 'web-uploads', '--kind', 'files', '--path', '/data', '--snapshot', 'abc', '--replace']);
  });
});

describe('summaryOf', () => {
  it('reads the summary line of restic backup --json', () => {
    const out = ['{"message_type":"status","percent_done":0.5}', '{"message_type":"summary","files_new":2,"data_added":100,"total_files_processed":3,"total_bytes_processed":900,"total_duration":1.5,"snapshot_id":"d3e876f2"}', ''].join('\n');
    expect(summaryOf(out)).toEqual({ snapshotId: 'd3e876f2', bytesAdded: 100, bytesTotal: 900, files: 3, durationSeconds: 1.5 });
  });
  it('refuses output without a summary: the backup did not complete', () => {
    expect(() => summaryOf('{"message_type":"status"}\n')).toThrow('restic printed no summary; the backup did not complete');
  });
});

describe('ResticError.from', () => {
  const where = 's3:http://127.0.0.1:9000/b/grove/restic/team/shop';
  it.each([
    ['Fatal: wrong password or no key found', 'WrongPassword', `restic backup: the password does not open the restic repository at ${where}`],
    ['Fatal: unable to open config file: Stat: Get "http://127.0.0.1:1/b/?location=": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?\ns3:…', 'Unreachable', `restic backup: cannot use the restic repository at ${where}: unable to open config file: Stat: Get "http://127.0.0.1:1/b/?location=": dial tcp 127.0.0.1:1: connect: connection refused`],
    ['Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?', 'NoRepository', `restic backup: there is no repository at ${where}`],
    ['Fatal: invalid id "deadbeef": no matching ID found for prefix "deadbeef"', 'NoSnapshot', `restic backup: snapshot deadbeef is not in the restic repository at ${where}`],
  ])('%s → %s', async (stderr, kind, message) => {
    const { ResticError } = await import('./restic/index.ts');
    const err = ResticError.from('backup', 1, stderr, where);
    expect([err.kind, err.message]).toEqual([kind, message]);
  });

  it('never repeats credentials written into a location', async () => {
    const { ResticError } = await import('./restic/index.ts');
    expect(ResticError.from('init', 1, 'Fatal: wrong password', 's3:http://key:secret@host/b').message).not.toContain('secret');
  });
});

describe('waitForServer', () => {
  it('tries again until the database accepts a connection', async () => {
    const attempts: string[] = [];
    const connect = async (host: string, port: number) => {
      attempts.push(`${host}:${port}`);
      if (attempts.length < 3) throw new Error('connect ECONNREFUSED');
    };
    await waitForServer({ host: 'db.shop-main.svc', port: 5432 }, { connect, pause: async () => undefined });
    expect(attempts).toEqual(['db.shop-main.svc:5432', 'db.shop-main.svc:5432', 'db.shop-main.svc:5432']);
  });

  it('gives up after its patience, with the last reason', async () => {
    const connect = async () => {
      throw new Error('getaddrinfo ENOTFOUND db.shop-main.svc');
    };
    await expect(waitForServer({ host: 'db.shop-main.svc', port: 5432 }, { patienceMs: 0, connect, pause: async () => undefined })).rejects.toThrow(
      'the database at db.shop-main.svc:5432 did not accept a connection within 0s: getaddrinfo ENOTFOUND db.shop-main.svc',
    );
  });
});
