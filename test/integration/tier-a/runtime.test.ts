// The controller runtime against the real API server: informers see every change, and Lease
// leader election lets exactly one candidate lead, hands over on release, and notices a loss.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/index.ts';
import { silentLogger } from '../../../src/log/index.ts';
import { Informer, LeaderElector, systemClock } from '../../../src/runtime/index.ts';
import { kube, testNamespace } from '../helpers.ts';

let ns: string;
beforeAll(async () => {
  ns = await testNamespace('runtime');
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const configMap = (name: string, data: Record<string, string>): KubeObject & { data: Record<string, string> } => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels: { informer: 'test' } },
  data,
});

describe('Informer', () => {
  it('lists, then reports every add, change and delete by key', async () => {
    await kube().create(configMap('before', { a: '1' }));
    const events: string[] = [];
    const informer = new Informer({
      kube: kube(),
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ns,
      labelSelector: 'informer=test',
      clock: systemClock,
      log: silentLogger(),
      onChange: (key, _obj, deleted) => events.push(`${deleted ? 'deleted' : 'changed'} ${key}`),
    });
    informer.start();
    cleanups.push(() => informer.stop());
    await informer.synced;
    expect(events).toEqual([`changed ${ns}/before`]);

    await kube().apply(configMap('after', { a: '1' }), { fieldManager: 'test' });
    await kube().apply(configMap('after', { a: '2' }), { fieldManager: 'test' });
    await kube().delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'before' });
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(4);
    expect(events.slice(1)).toEqual([`changed ${ns}/after`, `changed ${ns}/after`, `deleted ${ns}/before`]);
    expect((informer.get(`${ns}/after`) as { data?: Record<string, string> } | undefined)?.data).toEqual({ a: '2' });
    expect(informer.get(`${ns}/before`)).toBeUndefined();
    expect(informer.lists).toBe(1);
  });
});

describe('LeaderElector', () => {
  function candidate(identity: string, lease: string, log: string[]) {
    const elector = new LeaderElector({
      kube: kube(),
      clock: systemClock,
      log: silentLogger(),
      namespace: ns,
      name: lease,
      identity,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
      onStartedLeading: () => log.push(`${identity} leads`),
      onStoppedLeading: () => log.push(`${identity} lost`),
    });
    cleanups.push(() => elector.stop());
    return elector;
  }

  it('elects exactly one of two candidates and hands over when the leader steps down', async () => {
    const log: string[] = [];
    const a = candidate('a', 'handover', log);
    const b = candidate('b', 'handover', log);
    a.start();
    b.start();
    await expect.poll(() => log.length, { timeout: 10_000 }).toBe(1);
    await sleep(1000); // several more rounds: still one leader
    expect(log).toHaveLength(1);
    const [leader, follower] = log[0] === 'a leads' ? [a, b] : [b, a];
    expect(leader.isLeader).toBe(true);
    expect(follower.isLeader).toBe(false);

    await leader.stop();
    await expect.poll(() => follower.isLeader, { timeout: 10_000 }).toBe(true);
    const lease = await kube().get<KubeObject & { spec: { holderIdentity: string; leaseTransitions: number; renewTime: string } }>({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: ns,
      name: 'handover',
    });
    expect(lease?.spec.holderIdentity).toBe(log[0] === 'a leads' ? 'b' : 'a');
    expect(lease?.spec.leaseTransitions).toBe(1);
    expect(lease?.spec.renewTime).toMatch(/\.\d{6}Z$/);
  });

  it('reports the loss when another holder takes the lease, and stops campaigning', async () => {
    const log: string[] = [];
    const a = candidate('a', 'stolen', log);
    a.start();
    await expect.poll(() => a.isLeader, { timeout: 10_000 }).toBe(true);
    const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: ns, name: 'stolen' };
    const lease = (await kube().get<KubeObject & { spec: Record<string, unknown> }>(ref))!;
    await kube().replace({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseDurationSeconds: 3600 } });
    await expect.poll(() => log, { timeout: 10_000 }).toEqual(['a leads', 'a lost']);
    expect(a.isLeader).toBe(false);
  });
});
