import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatError, parseManifest } from '../src/manifest/index.ts';
import { demoManifest, demoObjects } from './demo-plan.ts';

function errorsOf(text: string): string[] {
  const result = parseManifest(text, 'platform.yaml');
  return result.ok ? [] : result.errors.map(formatError);
}

const shop = readFileSync(new URL('../examples/shop/platform.yaml', import.meta.url), 'utf8');

describe('the demo\'s copy of examples/shop', () => {
  it('leaves out the services this host cannot back up, with the relationships to them, and stays valid', () => {
    const { text, leftOut } = demoManifest(shop, (kind) => kind === 'postgresql' || kind === 'files');
    expect(leftOut).toEqual([{ service: 'cache', reason: 'redis:7 cannot be backed up on this host (the local mover runner serves files and PostgreSQL)' }]);
    const manifest = parse(text) as { services: Record<string, unknown>; applications: { web: { relationships: Record<string, string> } } };
    expect(Object.keys(manifest.services)).toEqual(['db']);
    expect(manifest.applications.web.relationships).toEqual({ database: 'db' });
    expect(text.split('\n')[0]).toBe('# The demo\'s copy of examples/shop: cache left out, since this host cannot back it up.');
    expect(text).toContain('# A small shop');
    expect(errorsOf(text)).toEqual([]);
  });

  it('is the example itself when every service can be backed up', () => {
    expect(demoManifest(shop, () => true)).toEqual({ text: shop, leftOut: [] });
  });
});

describe('the demo\'s Project', () => {
  it('clones from backups into the CSI class, and is found by webhook or by polling', () => {
    const [store, project] = demoObjects({ namespace: 'demo', repoUrl: 'http://127.0.0.1:1/shop.git', storageClass: 'csi-hostpath', minio: { url: 'http://127.0.0.1:2' } });
    expect(store).toMatchObject({ kind: 'BackupStore', metadata: { name: 'store', namespace: 'demo' }, spec: { s3: { endpoint: 'http://127.0.0.1:2', bucket: 'grove-demo' } } });
    expect(project).toMatchObject({
      kind: 'Project',
      metadata: { name: 'shop', namespace: 'demo' },
      spec: { repo: { url: 'http://127.0.0.1:1/shop.git' }, backupStoreRef: { name: 'store' }, storageClassName: 'csi-hostpath', defaults: { clone: 'backup' }, webhook: { secretRef: { name: 'hook' } }, pollIntervalSeconds: 10 },
    });
    expect(project?.spec).not.toHaveProperty('gitHost');
    const [, onGitea] = demoObjects({ namespace: 'demo', repoUrl: 'http://127.0.0.1:3/grove/shop.git', storageClass: 'csi-hostpath', minio: { url: 'http://127.0.0.1:2' }, gitea: true });
    expect(onGitea?.spec).toMatchObject({ gitHost: { type: 'gitea', secretRef: { name: 'gitea' } } });
  });
});
