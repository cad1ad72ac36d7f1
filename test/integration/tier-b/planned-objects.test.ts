// A plan applied to the real API server: every object is accepted, its pods pass the
// `restricted` Pod Security admission and run on kwok nodes, and the namespace really rejects a
// privileged pod. (The Environment controller that applies plans by itself comes next; this
// proves the plan's objects are what the API server and its admission accept.)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, FIELD_MANAGER, type KubeObject, type Project } from '../../../src/api/index.ts';
import { KubeError } from '../../../src/kube/index.ts';
import { parseManifest, resolveManifest } from '../../../src/manifest/index.ts';
import { planEnvironment, type Plan } from '../../../src/planner/index.ts';
import { type Conditioned, conditionStatus, kube } from '../helpers.ts';

const REV = 'de'.repeat(20);
let plan: Plan;

beforeAll(async () => {
  const parsed = parseManifest(readFileSync(fileURLToPath(new URL('../../../examples/shop/platform.yaml', import.meta.url)), 'utf8'));
  if (!parsed.ok) throw new Error('the shop example must be valid');
  const project = `plan${Math.random().toString(36).slice(2, 7)}`;
  const name = environmentName(project, 'feature/login');
  const environment: Environment = { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name, namespace: 'default' }, spec: { project, branch: 'feature/login', revision: REV } };
  const projectObj: Project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: project, namespace: 'default' }, spec: { repo: { url: 'https://git.example.com/x.git' } } };
  const manifest = resolveManifest(parsed.manifest, { type: 'development', commit: REV, branch: 'feature/login', environment: name });
  plan = planEnvironment({ environment, project: projectObj, manifest, revision: REV, credentials: { db: { username: 'app', password: 'pw-1', database: 'app' }, cache: { username: 'app', password: 'pw-2', database: 'app' } } });
  for (const obj of plan.objects) await kube().apply(obj, { fieldManager: FIELD_MANAGER, force: true });
});

afterAll(async () => {
  await kube().delete({ apiVersion: 'v1', kind: 'Namespace', name: plan.namespace });
});

describe('a planned environment on the API server', () => {
  it('has every planned object', async () => {
    for (const obj of plan.objects) {
      const live = await kube().get({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name!, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) });
      expect(live, `${obj.kind}/${obj.metadata.name}`).toBeDefined();
    }
  });

  it('runs its workloads: pods admitted as restricted, Deployments Available, StatefulSets ready, PVCs bound', async () => {
    const ns = plan.namespace;
    await expect.poll(async () => conditionStatus(await kube().get<Conditioned>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'web' }), 'Available'), { timeout: 30_000 }).toBe('True');
    for (const name of ['db', 'cache']) {
      await expect
        .poll(async () => (await kube().get<KubeObject & { status?: { readyReplicas?: number } }>({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: ns, name }))?.status?.readyReplicas, { timeout: 30_000 })
        .toBe(1);
    }
    await expect
      .poll(async () => (await kube().get<KubeObject & { status?: { phase?: string } }>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: 'web-uploads' }))?.status?.phase, { timeout: 30_000 })
      .toBe('Bound');
  });

  it('rejects a privileged pod in the environment namespace', async () => {
    const err = await kube()
      .create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'escape', namespace: plan.namespace },
        spec: { containers: [{ name: 'x', image: 'busybox', securityContext: { privileged: true } }] },
      } as KubeObject)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).status).toBe(403);
    expect((err as Error).message).toContain('violates PodSecurity "restricted:latest"');
    expect((err as Error).message).toContain('privileged');
  });
});
