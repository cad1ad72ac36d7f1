import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatError, parseManifest } from '../src/manifest/index.ts';
import { SHOP_MANIFEST, withImages } from './example.ts';

describe('withImages', () => {
  const shop = readFileSync(SHOP_MANIFEST, 'utf8');

  it('replaces the application\'s image and keeps the rest of the manifest, comments included', () => {
    const text = withImages(shop, { web: 'grove.local/shop-web:abc' });
    const parsed = parseManifest(text);
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => formatError(e)).join('\n'));
    expect(parsed.manifest.applications?.web?.image).toBe('grove.local/shop-web:abc');
    expect(parsed.manifest.services).toEqual(expect.objectContaining({ db: expect.objectContaining({ type: 'postgresql:15', clone: 'sanitized' }) }));
    expect(text).toContain('# A small shop');
    expect(text.split('\n').filter((l) => !l.includes('image:'))).toEqual(shop.split('\n').filter((l) => !l.includes('image:')));
  });

  it('refuses an application the manifest does not have', () => {
    expect(() => withImages(shop, { api: 'x:1' })).toThrow('the manifest has no application api with an image');
  });
});
