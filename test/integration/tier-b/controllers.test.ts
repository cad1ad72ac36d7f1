// Tier B: kube-controller-manager, kube-scheduler and kwok nodes. These tests prove the built-in
// controllers really run: namespaces finish deleting, Deployments roll out onto (simulated) nodes,
// Jobs complete and PersistentVolumeClaims bind.
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/index.ts';
import { type Conditioned, conditionStatus, kube, testNamespace } from '../helpers.ts';

let ns: string;
beforeAll(async () => {
  ns = await testNamespace('ctrl');
});

const container = { name: 'app', image: 'registry.example.com/app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } };

describe('the built-in controllers', () => {
  it('finish deleting a namespace and everything in it', async () => {
    const doomed = await testNamespace('doomed');
    await kube().create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: doomed }, data: { a: 'b' } });
    await kube().delete({ apiVersion: 'v1', kind: 'Namespace', name: doomed });
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'Namespace', name: doomed }), { timeout: 30_000, interval: 200 }).toBeUndefined();
  });

  it('make a Deployment Available with its pods bound to kwok nodes', async () => {
    await kube().create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [container] } },
      },
    });
    await expect
      .poll(async () => conditionStatus(await kube().get<Conditioned>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'web' }), 'Available'), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe('True');
    const pods = await kube().list<KubeObject & { spec: { nodeName?: string }; status: { phase: string } }>('v1', 'Pod', { namespace: ns, labelSelector: 'app=web' });
    expect(pods.items).toHaveLength(3);
    for (const pod of pods.items) {
      expect(pod.spec.nodeName).toMatch(/^kwok-node-\d+$/);
      expect(pod.status.phase).toBe('Running');
    }
  });

  it('run a Job to completion', async () => {
    await kube().create({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate', namespace: ns },
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [container] } } },
    });
    await expect
      .poll(async () => conditionStatus(await kube().get<Conditioned>({ apiVersion: 'batch/v1', kind: 'Job', namespace: ns, name: 'migrate' }), 'Complete'), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe('True');
  });

  it('bind a PersistentVolumeClaim of the default storage class', async () => {
    await kube().create({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    await expect
      .poll(
        async () => (await kube().get<KubeObject & { status?: { phase?: string } }>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: 'data' }))?.status?.phase,
        { timeout: 30_000, interval: 200 },
      )
      .toBe('Bound');
  });
});
