import { describe, expect, it } from 'vitest';
import { componentsForTier, parseTier, tierIncludes, versionLdflags } from './components.ts';

describe('tiers', () => {
  it('include everything of the tiers below', () => {
    expect(componentsForTier('a').map((c) => c.name)).toEqual(['etcd', 'kube-apiserver', 'kubectl']);
    expect(componentsForTier('b').map((c) => c.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'kube-scheduler', 'kwok']);
    expect(componentsForTier('c').map((c) => c.name)).toContain('minio');
    expect(tierIncludes('c', 'a')).toBe(true);
    expect(tierIncludes('a', 'b')).toBe(false);
  });

  it('parse case-insensitively and reject anything else', () => {
    expect(parseTier('B')).toBe('b');
    expect(() => parseTier('d')).toThrow('tier must be one of a, b, c (got "d")');
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
