import { describe, expect, it } from 'vitest';
import { COMPONENTS, componentsForTier, parseTier, tierIncludes, versionLdflags } from './components.ts';

describe('tiers', () => {
  it('include everything of the tiers below', () => {
    expect(componentsForTier('a').map((c) => c.name)).toEqual(['etcd', 'kube-apiserver', 'kubectl']);
    expect(componentsForTier('b').map((c) => c.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'kube-scheduler', 'kwok']);
    expect(componentsForTier('c').map((c) => c.name)).toEqual(expect.arrayContaining(['minio', 'csi-hostpath', 'csi-provisioner', 'snapshot-controller', 'csi-snapshotter']));
    expect(componentsForTier('d').filter((c) => c.tier === 'd').map((c) => c.name)).toEqual(['kubelet', 'kube-proxy', 'coredns', 'kube-router']);
    expect(tierIncludes('c', 'a')).toBe(true);
    expect(tierIncludes('a', 'b')).toBe(false);
  });

  it('parse case-insensitively and reject anything else', () => {
    expect(parseTier('B')).toBe('b');
    expect(parseTier('D')).toBe('d');
    expect(() => parseTier('e')).toThrow('tier must be one of a, b, c, d (got "e")');
  });
});

describe('the CSI components', () => {
  it('pin one version per module, since the CSI build module requires each module once', () => {
    const versions = new Map<string, Set<string>>();
    for (const c of COMPONENTS) {
      if (c.recipe.kind !== 'csi') continue;
      versions.set(c.recipe.module, (versions.get(c.recipe.module) ?? new Set()).add(c.version));
    }
    expect(versions.size).toBe(2);
    for (const set of versions.values()) expect(set.size).toBe(1);
  });
});

describe('versionLdflags', () => {
  it('stamps both version packages, as Kubernetes releases do', () => {
    const flags = versionLdflags('v1.36.4');
    for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
      expect(flags).toContain(`-X ${pkg}.gitVersion=v1.36.4`);
      expect(flags).toContain(`-X ${pkg}.gitMajor=1`);
      expect(flags).toContain(`-X ${pkg}.gitMinor=36`);
    }
  });

  it('refuses a version that is not a release', () => {
    expect(() => versionLdflags('master')).toThrow('not a release version: master');
  });
});
