import { describe, expect, it } from 'vitest';
import type { Kube } from '../kube/index.ts';
import { readSecret, usableBy } from './index.ts';

const shop = { kind: 'Project', name: 'shop' } as const;

describe('usableBy', () => {
  it('lets exactly the objects the annotation lists use a Secret', () => {
    const listed = { 'grove.dev/usable-by': 'BackupStore/s3,  Project/shop ,Project/blog' };
    expect(usableBy(listed, shop)).toBe(true);
    expect(usableBy(listed, { kind: 'BackupStore', name: 's3' })).toBe(true);
    expect(usableBy(listed, { kind: 'BackupStore', name: 'shop' })).toBe(false);
    expect(usableBy({ 'grove.dev/usable-by': 'Project/shopping' }, shop)).toBe(false);
    expect(usableBy({ 'grove.dev/usable-by': '*' }, shop)).toBe(false);
    expect(usableBy({}, shop)).toBe(false);
    expect(usableBy(undefined, shop)).toBe(false);
  });
});

describe('readSecret', () => {
  const secret = (annotations: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'git', namespace: 'team', annotations },
    data: { token: Buffer.from('t0ken').toString('base64') },
  });
  const kubeWith = (obj: ReturnType<typeof secret> | undefined) => {
    const calls: string[] = [];
    const kube = {
      getMetadata: async () => (calls.push('metadata'), obj && { ...obj, data: undefined }),
      get: async () => (calls.push('contents'), obj),
    } as unknown as Kube;
    return { kube, calls };
  };

  it('reads the contents of a Secret that lists the object', async () => {
    const api = kubeWith(secret({ 'grove.dev/usable-by': 'Project/shop' }));
    expect(await readSecret(api.kube, 'team', 'git', shop)).toEqual({ token: 't0ken' });
    expect(api.calls).toEqual(['metadata', 'contents']);
  });

  it('refuses, having read only metadata, a Secret that does not list the object, and says what would let it', async () => {
    const api = kubeWith(secret({ 'grove.dev/usable-by': 'Project/blog' }));
    await expect(readSecret(api.kube, 'team', 'git', shop)).rejects.toThrow(
      'Secret git does not let Project shop use it: a Secret is used only by the Grove objects its annotation grove.dev/usable-by lists (add Project/shop)',
    );
    expect(api.calls).toEqual(['metadata']);
  });

  it('answers undefined for a Secret that does not exist', async () => {
    const api = kubeWith(undefined);
    expect(await readSecret(api.kube, 'team', 'git', shop)).toBeUndefined();
    expect(api.calls).toEqual(['metadata']);
  });
});
