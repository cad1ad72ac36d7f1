import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatError, MAX_MANIFEST_BYTES, parseDuration, parseManifest, resolveManifest, type PlatformManifest } from './index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const invalidDir = `${root}test/fixtures/manifests/invalid/`;

function errorsOf(text: string, file = 'platform.yaml'): string[] {
  const result = parseManifest(text, file);
  return result.ok ? [] : result.errors.map(formatError);
}

function valid(text: string): PlatformManifest {
  const result = parseManifest(text);
  if (!result.ok) throw new Error(result.errors.map(formatError).join('\n'));
  return result.manifest;
}

describe('the examples', () => {
  for (const name of readdirSync(`${root}examples`)) {
    it(`examples/${name}/platform.yaml is valid`, () => {
      expect(errorsOf(readFileSync(`${root}examples/${name}/platform.yaml`, 'utf8'))).toEqual([]);
    });
  }
});

describe('broken manifests (test/fixtures/manifests/invalid)', () => {
  // Each fixture lists every error it must produce, in order, as `# expect: line:column path: message`.
  for (const file of readdirSync(invalidDir).filter((f) => f.endsWith('.yaml'))) {
    it(`${file} reports each error with its position`, () => {
      const text = readFileSync(invalidDir + file, 'utf8');
      const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => `${file}:${m[1]}`);
      expect(expected.length).toBeGreaterThan(0);
      expect(errorsOf(text, file)).toEqual(expected);
    });
  }
});

describe('hostile manifests', () => {
  it('refuses a file over the size limit before parsing it', () => {
    const huge = `version: 1\napplications:\n  web:\n    image: "${'x'.repeat(MAX_MANIFEST_BYTES)}"\n`;
    expect(errorsOf(huge)).toEqual([`platform.yaml:1:1: the file is ${Buffer.byteLength(huge)} bytes; a manifest may be at most ${MAX_MANIFEST_BYTES} bytes`]);
  });

  it('refuses deep flow nesting without exhausting the stack', () => {
    const deep = `version: 1\nx: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
    expect(errorsOf(deep)).toEqual(['platform.yaml:2:36: nesting is deeper than 32 levels']);
  });

  it('refuses deep block nesting', () => {
    const deep = `version: 1\n${Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`;
    expect(errorsOf(deep)[0]).toMatch(/^platform\.yaml:\d+:\d+: nesting is deeper than 32 levels$/);
  });

  it('refuses nesting past the limit that indentation alone does not show', () => {
    const deep = `version: 1\nx: ${'{a: '.repeat(20)}1${'}'.repeat(20)}\ny:\n${Array.from({ length: 20 }, (_, i) => `${'  '.repeat(i + 1)}k:`).join('\n')} 1\n`;
    expect(errorsOf(deep).filter((e) => e.includes('nesting'))).toEqual([]);
    const deeper = `version: 1\nx:\n${Array.from({ length: 40 }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1\n`;
    expect(errorsOf(deeper)).toEqual(['platform.yaml:1:1: nesting is deeper than 32 levels']);
  });

  it('stops an alias bomb', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
    expect(errorsOf(bomb)).toEqual(['platform.yaml:1:1: Excessive alias count indicates a resource exhaustion attack (at most 50 alias expansions)']);
  });

  it('refuses a sanitized copy that no hook could scrub, at the service\'s clone field', () => {
    const text = ['version: 1', 'applications:', '  web: { image: shop/web:1 }', 'services:', '  db: { type: "postgresql:15", clone: sanitized }', ''].join('\n');
    expect(errorsOf(text)).toEqual([
      'platform.yaml:5:39: services.db.clone: sanitized needs a sanitize hook to scrub the copy (applications.<name>.hooks.sanitize), and no application has one; use full to copy the data as it is',
    ]);
    expect(errorsOf(text.replace('clone: sanitized', 'clone: full'))).toEqual([]);
  });

  it('reports an empty file', () => {
    expect(errorsOf('# nothing here\n')).toEqual(['platform.yaml:1:1: the manifest is empty; it needs at least `version: 1`']);
  });

  it('reports a document that is not a mapping', () => {
    expect(errorsOf('- version: 1\n')).toEqual(['platform.yaml:1:1: must be a mapping of keys to values']);
  });
});

describe('resolveManifest', () => {
  const manifest = valid(readFileSync(`${root}examples/shop/platform.yaml`, 'utf8'));
  const ctx = { commit: 'a'.repeat(40), branch: 'feature/login', environment: 'shop-feature-login' };

  it('merges the overrides of the environment type, objects key by key', () => {
    const dev = resolveManifest(manifest, { ...ctx, type: 'development' });
    expect(dev.applications.web).toMatchObject({ replicas: 1, port: 8080, resources: { cpu: '100m', memory: '128Mi' } });
    const prod = resolveManifest(manifest, { ...ctx, type: 'production' });
    expect(prod.applications.web).toMatchObject({ replicas: 2, resources: { cpu: '250m', memory: '256Mi' } });
    expect('environments' in prod).toBe(false);
  });

  it('expands the variables in images, env values and commands', () => {
    const m = valid(`version: 1
applications:
  web:
    image: shop/web:\${GIT_COMMIT}
    env: { BRANCH: "\${GIT_BRANCH}", WHERE: "env=\${ENVIRONMENT}" }
    hooks: { deploy: [echo, "\${GIT_BRANCH}"] }
    crons: { c: { schedule: "@daily", command: [run, "\${ENVIRONMENT}"] } }
`);
    const web = resolveManifest(m, { ...ctx, type: 'development' }).applications.web!;
    expect(web.image).toBe(`shop/web:${'a'.repeat(40)}`);
    expect(web.env).toEqual({ BRANCH: 'feature/login', WHERE: 'env=shop-feature-login' });
    expect(web.hooks?.deploy).toEqual(['echo', 'feature/login']);
    expect(web.crons?.c?.command).toEqual(['run', 'shop-feature-login']);
  });

  it('does not change the manifest it was given', () => {
    const before = JSON.stringify(manifest);
    resolveManifest(manifest, { ...ctx, type: 'development' });
    expect(JSON.stringify(manifest)).toBe(before);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30],
    ['15m', 900],
    ['72h', 259200],
    ['14d', 1209600],
    ['2w', 1209600],
  ])('%s is %i seconds', (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(['', '3 days', '1.5h', 'h', '-1h'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
});
