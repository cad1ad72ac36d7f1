import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/index.ts';
import type { Kube } from '../kube/index.ts';
import { type AppliedRecord, applyPlan, assessReadiness, hashOf, needsApply, observedForm, refOf, staleEntries } from './index.ts';

const configMap: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-env', namespace: 'shop-main', labels: { 'grove.dev/environment': 'main' } } };
const deployment: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop-main', labels: { 'grove.dev/environment': 'main' } } };

function record(obj: KubeObject, overrides: Partial<AppliedRecord> = {}): AppliedRecord {
  return { hash: hashOf(obj), uid: 'u1', resourceVersion: '10', generation: 1, ...overrides };
}

function live(obj: KubeObject, meta: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, uid: 'u1', resourceVersion: '10', generation: 1, ...meta } };
}

describe('needsApply', () => {
  const cases: Array<[string, KubeObject, AppliedRecord | undefined, KubeObject | undefined, boolean]> = [
    ['never applied by this process', configMap, undefined, live(configMap), true],
    ['the live object is gone', configMap, record(configMap), undefined, true],
    ['the planned content changed', configMap, record(configMap, { hash: 'older' }), live(configMap), true],
    ['deleted and made again (new uid)', configMap, record(configMap), live(configMap, { uid: 'u2' }), true],
    ['being deleted', configMap, record(configMap), live(configMap, { deletionTimestamp: '2026-01-01T00:00:00Z' }), true],
    ['unchanged since the apply', configMap, record(configMap), live(configMap), false],
    ['edited by someone (a kind only Grove writes)', configMap, record(configMap), live(configMap, { resourceVersion: '11' }), true],
    ['status written by its controller', deployment, record(deployment), live(deployment, { resourceVersion: '12' }), false],
    ['spec edited by someone (generation moved)', deployment, record(deployment), live(deployment, { resourceVersion: '12', generation: 2 }), true],
    ['a Grove label removed', deployment, record(deployment), live(deployment, { resourceVersion: '12', labels: {} }), true],
    ['a label added by someone else', deployment, record(deployment), live(deployment, { resourceVersion: '12', labels: { 'grove.dev/environment': 'main', extra: 'x' } }), false],
  ];
  it.each(cases)('%s → %s', (_why, desired, rec, observed, expected) => {
    expect(needsApply(desired, hashOf(desired), rec, observed)).toBe(expected);
  });
});

describe('hashOf', () => {
  it('differs when any planned field differs', () => {
    expect(hashOf(configMap)).toBe(hashOf(structuredClone(configMap)));
    expect(hashOf({ ...configMap, data: { a: '1' } } as KubeObject)).not.toBe(hashOf({ ...configMap, data: { a: '2' } } as KubeObject));
  });
});

describe('observedForm', () => {
  it('keeps identity, labels, replicas and status of workloads, and drops the rest', () => {
    const full = {
      ...live(deployment),
      metadata: { ...live(deployment).metadata, managedFields: [{ manager: 'grove' }], creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { replicas: 2, template: { spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
      status: { availableReplicas: 2 },
    };
    expect(observedForm(full)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop-main', uid: 'u1', resourceVersion: '10', generation: 1, labels: { 'grove.dev/environment': 'main' }, annotations: undefined },
      spec: { replicas: 2 },
      status: { availableReplicas: 2 },
    });
  });

  it('keeps the data of Secrets, which hold the service credentials', () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-credentials', namespace: 'shop-main' }, data: { password: 'cHc=' } };
    expect(observedForm(secret)).toMatchObject({ data: { password: 'cHc=' } });
    expect(observedForm({ ...configMap, data: { a: '1' } } as KubeObject)).not.toHaveProperty('data');
  });
});

describe('staleEntries and refOf', () => {
  it('finds what left the plan and turns it back into a reference', () => {
    const previous = [
      { id: 'shop-main_web_apps_Deployment', v: 'apps/v1' },
      { id: 'shop-main_old-env__ConfigMap', v: 'v1' },
      { id: '_shop-main__Namespace', v: 'v1' },
    ];
    const current = [previous[0]!, previous[2]!];
    expect(staleEntries(previous, current)).toEqual([previous[1]]);
    expect(refOf(previous[1]!)).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', name: 'old-env', namespace: 'shop-main' });
    expect(refOf(previous[2]!)).toEqual({ apiVersion: 'v1', kind: 'Namespace', name: 'shop-main' });
  });
});

describe('assessReadiness', () => {
  const dep = (status: Record<string, unknown>, generation = 1): KubeObject =>
    ({ ...deployment, metadata: { ...deployment.metadata, generation }, spec: { replicas: 1 }, status }) as KubeObject;
  it('waits for a Deployment until its current generation is available', () => {
    expect(assessReadiness([dep({})]).ready).toBe(false);
    expect(assessReadiness([dep({ observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] }, 2)]).ready).toBe(false);
    expect(assessReadiness([dep({ observedGeneration: 2, updatedReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] }, 2)])).toEqual({ ready: true, waiting: [], failed: [] });
  });

  it('reports a failed Job as failed, not as waiting', () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'deploy-abc' }, status: { conditions: [{ type: 'Failed', status: 'True' }] } };
    expect(assessReadiness([job])).toEqual({ ready: false, waiting: [], failed: ['Job deploy-abc failed'] });
  });
});

describe('applyPlan', () => {
  // Only apply is called while nothing is pruned; the server answers with a uid and resourceVersion.
  const applied: string[] = [];
  const kube = {
    apply: async (obj: KubeObject) => {
      applied.push(`${obj.kind}/${obj.metadata.name}`);
      return { ...obj, metadata: { ...obj.metadata, uid: `uid-${obj.metadata.name}`, resourceVersion: '1' } };
    },
  } as unknown as Kube;
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-credentials', namespace: 'shop-main' } };

  it('applies what no cache watches once per content, and again at the forced resync', async () => {
    applied.length = 0;
    const records = new Map<string, AppliedRecord>();
    // ConfigMaps are cached; Secrets are not.
    const observed = (ref: { kind: string }) => (ref.kind === 'Secret' ? undefined : { object: undefined });
    const ctx = (force: boolean) => ({ observed, records, force });
    await applyPlan(kube, [configMap, secret], [], [], ctx(false));
    expect(applied).toEqual(['ConfigMap/web-env', 'Secret/db-credentials']);
    const again = await applyPlan(kube, [configMap, secret], [], [], ctx(false));
    // The ConfigMap is not in the cache (it was deleted, say): applied again. The Secret is as Grove left it.
    expect(applied.slice(2)).toEqual(['ConfigMap/web-env']);
    expect(again.live[1]).toBe(secret);
    await applyPlan(kube, [configMap, { ...secret, metadata: { ...secret.metadata, labels: { changed: 'yes' } } }], [], [], ctx(false));
    expect(applied.slice(3)).toEqual(['ConfigMap/web-env', 'Secret/db-credentials']);
    await applyPlan(kube, [configMap, secret], [], [], ctx(true));
    expect(applied.slice(5)).toEqual(['ConfigMap/web-env', 'Secret/db-credentials']);
  });
});
