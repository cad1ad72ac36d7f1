// Tier A: a real etcd and kube-apiserver with Grove's CRDs. These tests prove the API server is
// the real one and that the CRD schemas do what users rely on: defaults, rejections with the
// schema's own message, CEL invariants, the status subresource and the printer columns.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Environment, KINDS, type KubeObject } from '../../../src/api/index.ts';
import { KubeError } from '../../../src/kube/index.ts';
import { cluster, type Conditioned, conditionStatus, kube, testNamespace } from '../helpers.ts';

const execFileAsync = promisify(execFile);

let ns: string;
beforeAll(async () => {
  ns = await testNamespace('api');
});

function environment(name: string, spec: Record<string, unknown>): Environment {
  return { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name, namespace: ns }, spec: spec as unknown as Environment['spec'] };
}

async function rejection(obj: KubeObject): Promise<KubeError> {
  const err = await kube().create(obj).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the API server accepted an invalid object').toBeInstanceOf(KubeError);
  return err as KubeError;
}

describe('the local API server', () => {
  it('is a real kube-apiserver reporting Kubernetes v1.36', async () => {
    expect(await kube().serverVersion()).toMatch(/^v1\.36\.\d+$/);
  });

  it('serves the six Grove CRDs, each Established', async () => {
    const crds = await kube().list<Conditioned>('apiextensions.k8s.io/v1', 'CustomResourceDefinition', { labelSelector: 'app.kubernetes.io/part-of=grove' });
    expect(crds.items.map((c) => c.metadata.name).sort()).toEqual([
      'backups.grove.dev',
      'backupstores.grove.dev',
      'environments.grove.dev',
      'projects.grove.dev',
      'rehearsals.grove.dev',
      'restores.grove.dev',
    ]);
    for (const crd of crds.items) expect(conditionStatus(crd, 'Established'), crd.metadata.name).toBe('True');
  });
});

describe('the Environment schema', () => {
  it('accepts a minimal Environment and fills in the defaults', async () => {
    const created = await kube().create(environment('feature-login', { project: 'shop', branch: 'feature/login' }));
    expect(created.spec).toEqual({ project: 'shop', branch: 'feature/login', type: 'development', state: 'active', protected: false });
    // clone, ttlSeconds and sleepAfterSeconds stay unset so that the Project's defaults apply.
  });

  it('rejects an unknown type with the schema message', async () => {
    const err = await rejection(environment('bad-type', { project: 'shop', branch: 'x', type: 'prod' }));
    expect(err.status).toBe(422);
    expect(err.message).toContain('spec.type: Unsupported value: "prod"');
    expect(err.message).toContain('"production", "staging", "development"');
  });

  it('rejects a missing branch and names the field', async () => {
    const err = await rejection(environment('no-branch', { project: 'shop' }));
    expect(err.message).toContain('spec.branch: Required value');
  });

  it('rejects a branch name Git would refuse, with the CEL message', async () => {
    for (const branch of ['feature..x', 'ends/with/', 'has space', 'x.lock', 'a@{b']) {
      const err = await rejection(environment('bad-branch', { project: 'shop', branch }));
      expect(err.message, branch).toMatch(/spec\.branch: (Invalid value|Invalid value: "string"): .*(must be a valid Git branch name|should match)/);
    }
  });

  it('accepts branch names Git accepts, unicode included', async () => {
    for (const [i, branch] of ['feat/ünïcode-λ', 'release/2026.11', 'agent/coder-7/fix_#42'].entries()) {
      await expect(kube().create(environment(`ok-branch-${i}`, { project: 'shop', branch }))).resolves.toBeDefined();
    }
  });

  it('rejects a revision that is not a full commit SHA', async () => {
    const err = await rejection(environment('bad-rev', { project: 'shop', branch: 'x', revision: 'abc123' }));
    expect(err.message).toContain('spec.revision: Invalid value');
  });

  it('rejects a production environment with a parent', async () => {
    const err = await rejection(environment('prod', { project: 'shop', branch: 'main', type: 'production', parent: 'other' }));
    expect(err.message).toContain('a production environment has no parent');
  });

  it('rejects an environment that is its own parent', async () => {
    const err = await rejection(environment('selfish', { project: 'shop', branch: 'x', parent: 'selfish' }));
    expect(err.message).toContain('spec.parent must name another environment');
  });

  it('rejects sleepAfterSeconds not below ttlSeconds', async () => {
    const err = await rejection(environment('sleepy', { project: 'shop', branch: 'x', ttlSeconds: 3600, sleepAfterSeconds: 7200 }));
    expect(err.message).toContain('sleepAfterSeconds must be less than ttlSeconds');
  });

  it('keeps project and branch immutable', async () => {
    await kube().create(environment('immutable', { project: 'shop', branch: 'feature/a' }));
    const err = await kube()
      .apply(environment('immutable', { project: 'shop', branch: 'feature/b' }), { fieldManager: 'test', force: true })
      .then(
        () => undefined,
        (e: unknown) => e as KubeError,
      );
    expect(err?.message).toContain('branch is immutable');
  });

  it('keeps status in its subresource', async () => {
    const env = environment('with-status', { project: 'shop', branch: 'feature/s' });
    await kube().create({ ...env, status: { namespace: 'ignored-on-create' } });
    expect((await kube().get<Environment>({ ...env, ...env.metadata, name: 'with-status', namespace: ns }))?.status).toBeUndefined();

    await kube().applyStatus(
      {
        ...env,
        status: {
          namespace: 'shop-feature-s',
          urls: [{ name: 'web', url: 'https://web-feature-s.example.com' }],
          expiresAt: '2099-01-01T00:00:00Z',
          conditions: [{ type: 'Ready', status: 'True', reason: 'Reconciled', message: 'Applied', lastTransitionTime: '2026-11-22T00:00:00Z' }],
        },
      },
      { fieldManager: 'test' },
    );
    const live = await kube().get<Environment>({ apiVersion: env.apiVersion, kind: env.kind, name: 'with-status', namespace: ns });
    expect(live?.status?.namespace).toBe('shop-feature-s');
  });

  it('shows BRANCH, READY, REASON, URL, EXPIRES and AGE in kubectl get', async () => {
    const { stdout } = await execFileAsync(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, 'get', 'environments', '-n', ns, 'with-status']);
    const [header, row] = stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'BRANCH', 'READY', 'REASON', 'URL', 'EXPIRES', 'AGE']);
    // An expiry to come, as the time it is (a date column would print `<invalid>`).
    expect(row).toMatch(/^with-status\s+feature\/s\s+True\s+Reconciled\s+https:\/\/web-feature-s\.example\.com\s+2099-01-01T00:00:00Z\s+\d+s$/);
  });
});

describe('the other kinds', () => {
  it('reject a Backup without an environment and make its spec immutable', async () => {
    const backup = { apiVersion: 'grove.dev/v1alpha1', kind: 'Backup', metadata: { name: 'b1', namespace: ns }, spec: { project: 'shop' } };
    expect((await rejection(backup)).message).toContain('spec.environment: Required value');
    await kube().create({ ...backup, spec: { project: 'shop', environment: 'feature-login' } });
    const err = await kube()
      .apply({ ...backup, spec: { project: 'shop', environment: 'other' } }, { fieldManager: 'test', force: true })
      .then(
        () => undefined,
        (e: unknown) => e as KubeError,
      );
    expect(err?.message).toContain('spec is immutable');
  });

  it('reject a Project whose repository is not an HTTP(S) URL', async () => {
    const project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'p', namespace: ns }, spec: { repo: { url: 'git@example.com:shop.git' } } };
    expect((await rejection(project)).message).toContain('spec.repo.url: Invalid value');
  });

  it('reject egress to what is not a range or lies in a private one, and an allowlist without its mode', async () => {
    const project = (egress: Record<string, unknown>) => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'e', namespace: ns }, spec: { repo: { url: 'https://git.example.com/shop.git' }, network: { egressByType: { staging: egress } } } });
    expect((await rejection(project({ mode: 'allowlist', allow: [{ cidr: 'example.com/24' }] }))).message).toContain('cidr must be an address range such as 203.0.113.0/24');
    expect((await rejection(project({ mode: 'allowlist', allow: [{ cidr: '10.1.2.0/24' }] }))).message).toContain('cidr lies inside a private, link-local or loopback range, which environments never reach');
    expect((await rejection(project({ mode: 'allowlist', allow: [{ cidr: '169.254.169.254/32' }] }))).message).toContain('cidr lies inside a private');
    expect((await rejection(project({ mode: 'internet', allow: [{ cidr: '203.0.113.0/24' }] }))).message).toContain('allow is used only with mode: allowlist');
    expect((await rejection(project({ mode: 'allowlist', allow: [{ cidr: '203.0.113.0/24', ports: [0] }] }))).message).toContain('should be greater than or equal to 1');
    const accepted = await kube().create<KubeObject>(project({ mode: 'allowlist', allow: [{ cidr: '203.0.113.0/24', ports: [443] }, { cidr: '0.0.0.0/0' }] }));
    expect(accepted.metadata.uid).toBeTruthy();
  });

  it('reject a BackupStore with an invalid bucket name', async () => {
    const store = {
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'BackupStore',
      metadata: { name: 's', namespace: ns },
      spec: { s3: { endpoint: 'http://127.0.0.1:9000', bucket: 'Bad_Bucket' }, credentialsSecretRef: { name: 'c' }, resticPasswordSecretRef: { name: 'r' } },
    };
    expect((await rejection(store)).message).toContain('spec.s3.bucket: Invalid value');
  });

  it('print the columns the CRDs declare, in kubectl get -o wide', async () => {
    const objects: KubeObject[] = [
      { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'columns', namespace: ns }, spec: { repo: { url: 'https://git.example.com/shop.git' } } } as KubeObject,
      {
        apiVersion: 'grove.dev/v1alpha1',
        kind: 'BackupStore',
        metadata: { name: 'columns', namespace: ns },
        spec: { s3: { endpoint: 'http://127.0.0.1:9000', bucket: 'columns' }, credentialsSecretRef: { name: 'c' }, resticPasswordSecretRef: { name: 'r' } },
      } as KubeObject,
      { apiVersion: 'grove.dev/v1alpha1', kind: 'Backup', metadata: { name: 'columns', namespace: ns }, spec: { project: 'shop', environment: 'shop-main' } } as KubeObject,
      { apiVersion: 'grove.dev/v1alpha1', kind: 'Restore', metadata: { name: 'columns', namespace: ns }, spec: { backup: 'columns' } } as KubeObject,
      { apiVersion: 'grove.dev/v1alpha1', kind: 'Rehearsal', metadata: { name: 'columns', namespace: ns }, spec: { project: 'shop', branch: 'feature/columns' } } as KubeObject,
      environment('columns', { project: 'shop', branch: 'feature/columns' }),
    ];
    for (const obj of objects) await kube().create(obj);
    for (const def of KINDS) {
      const { stdout } = await execFileAsync(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, 'get', def.plural, '-n', ns, 'columns', '-o', 'wide']);
      const header = stdout.split('\n')[0]?.trim().split(/\s{2,}/);
      expect(header, def.kind).toEqual(['NAME', ...def.columns.map((c) => c.name.toUpperCase())]);
    }
  });
});
