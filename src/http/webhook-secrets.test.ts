import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/index.ts';
import type { Kube } from '../kube/index.ts';
import { silentLogger } from '../log/index.ts';
import { FakeClock } from '../runtime/index.ts';
import { WebhookSecrets } from './webhook-secrets.ts';

/** A Kube that answers `get` from `objects` after a turn of the event loop, counting reads and how many run at once. */
function kubeOf(objects: KubeObject[]) {
  const reads: string[] = [];
  let running = 0;
  let most = 0;
  let failing = false;
  const read = (what: string) => async (ref: { kind: string; namespace: string; name: string }) => {
    reads.push(`${ref.kind}/${ref.name}${what}`);
    most = Math.max(most, ++running);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    if (failing) throw new Error('the API server is away');
    return objects.find((o) => o.kind === ref.kind && o.metadata.namespace === ref.namespace && o.metadata.name === ref.name);
  };
  const kube = { get: read(''), getMetadata: read(' (metadata)') } as unknown as Kube;
  return { kube, reads, most: () => most, fail: (on: boolean) => void (failing = on) };
}

const project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'http://git.test/shop.git' }, webhook: { secretRef: { name: 'hook' } } } };
const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook', namespace: 'team', annotations: { 'grove.dev/usable-by': 'Project/shop' } }, data: { secret: Buffer.from('s3cret').toString('base64') } };

describe('WebhookSecrets', () => {
  it('reads a Project and its Secret once per TTL however many requests ask', async () => {
    const api = kubeOf([project, secret]);
    const clock = new FakeClock();
    const secrets = new WebhookSecrets({ kube: api.kube, clock, log: silentLogger(), ttlMs: 10_000 });
    const answers = await Promise.all(Array.from({ length: 200 }, () => secrets.secretOf('team', 'shop')));
    expect(new Set(answers)).toEqual(new Set(['s3cret']));
    expect(api.reads).toEqual(['Project/shop', 'Secret/hook (metadata)', 'Secret/hook']);
    clock.advance(10_000);
    await secrets.secretOf('team', 'shop');
    expect(api.reads).toHaveLength(6);
  });

  it('remembers that a Project has no webhook, and reads no more than maxLookups at a time', async () => {
    const api = kubeOf([project, secret]);
    const secrets = new WebhookSecrets({ kube: api.kube, clock: new FakeClock(), log: silentLogger(), maxLookups: 3 });
    const names = Array.from({ length: 30 }, (_, i) => `nope-${i}`);
    expect(await Promise.all(names.map((n) => secrets.secretOf('team', n)))).toEqual(names.map(() => undefined));
    await Promise.all(names.map((n) => secrets.secretOf('team', n)));
    expect(api.reads).toHaveLength(30);
    expect(api.most()).toBe(3);
  });

  it('forgets the least recently used past maxEntries', async () => {
    const api = kubeOf([]);
    const secrets = new WebhookSecrets({ kube: api.kube, clock: new FakeClock(), log: silentLogger(), maxEntries: 2 });
    for (const n of ['a', 'b', 'a', 'c', 'a']) await secrets.secretOf('team', n);
    // a stayed in use; b went when c came.
    expect(api.reads).toEqual(['Project/a', 'Project/b', 'Project/c']);
    await secrets.secretOf('team', 'b');
    expect(api.reads).toHaveLength(4);
  });

  it('does not remember a failed read: the next request asks again', async () => {
    const api = kubeOf([project, secret]);
    const secrets = new WebhookSecrets({ kube: api.kube, clock: new FakeClock(), log: silentLogger() });
    api.fail(true);
    await expect(secrets.secretOf('team', 'shop')).rejects.toThrow('the API server is away');
    api.fail(false);
    expect(await secrets.secretOf('team', 'shop')).toBe('s3cret');
  });

  it('refuses the webhooks of a Project whose Secret does not let it use it, reading only that Secret\'s metadata', async () => {
    const borrowed = { ...secret, metadata: { ...secret.metadata, annotations: { 'grove.dev/usable-by': 'Project/other' } } };
    const api = kubeOf([project, borrowed]);
    const secrets = new WebhookSecrets({ kube: api.kube, clock: new FakeClock(), log: silentLogger() });
    expect(await secrets.secretOf('team', 'shop')).toBeUndefined();
    expect(api.reads).toEqual(['Project/shop', 'Secret/hook (metadata)']);
  });
});
