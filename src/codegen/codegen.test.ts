import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { customResourceDefinition, KINDS, obj, str } from '../api/index.ts';
import { generatedFiles, typeScriptTypes } from './index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('generated files', () => {
  it('are current: crds/*.yaml, admission/*.yaml, schemas/platform.schema.json and types.gen.ts match their sources (run `npm run generate`)', async () => {
    for (const [path, contents] of generatedFiles()) {
      expect(await readFile(root + path, 'utf8'), `${path} is stale: run npm run generate`).toBe(contents);
    }
  });
});

describe('typeScriptTypes', () => {
  it('makes required properties required and the rest optional, with docs and enums', () => {
    const text = typeScriptTypes([
      {
        kind: 'Project',
        plural: 'things',
        shortNames: [],
        description: 'A thing.',
        spec: obj('Spec.', { name: str('The name.'), 'mode?': { type: 'string', enum: ['a', 'b'], description: 'Mode.', default: 'a' } }),
        status: obj('Status.', {}),
        columns: [],
      },
    ]);
    expect(text).toContain('export interface ProjectSpec {\n  /** The name. */\n  name: string;\n  /** Mode. Default: `"a"`. */\n  mode?: \'a\' | \'b\';\n}');
    expect(text).toContain("  spec: ProjectSpec;\n  status?: ProjectStatus;");
  });

  it('refuses two different schemas under one title', () => {
    const a = obj('A.', { x: str('x') }, { title: 'Same' });
    const b = obj('B.', { y: str('y') }, { title: 'Same' });
    expect(() =>
      typeScriptTypes([{ kind: 'Project', plural: 'p', shortNames: [], description: '', spec: obj('', { a: a, b: b }), status: obj('', {}), columns: [] }]),
    ).toThrow('Two different schemas are both titled Same');
  });
});

describe('the CRDs', () => {
  it('give every kind a status subresource, Ready and Age columns, and no phase field', () => {
    for (const def of KINDS) {
      const crd = customResourceDefinition(def) as { spec: { versions: Array<{ subresources: unknown; additionalPrinterColumns: Array<{ name: string }> }> } };
      const version = crd.spec.versions[0]!;
      expect(version.subresources, def.kind).toEqual({ status: {} });
      const columns = version.additionalPrinterColumns.map((c) => c.name);
      expect(columns, def.kind).toContain('Ready');
      expect(columns.at(-1) === 'Age' || columns.includes('Age'), def.kind).toBe(true);
      expect(JSON.stringify(crd), def.kind).not.toMatch(/"phase"/);
    }
  });

  it('print Environments as DESIGN §2 says: BRANCH, READY, REASON, URL, EXPIRES, AGE', () => {
    const env = KINDS.find((k) => k.kind === 'Environment')!;
    expect(env.columns.filter((c) => !c.priority).map((c) => c.name.toUpperCase())).toEqual(['BRANCH', 'READY', 'REASON', 'URL', 'EXPIRES', 'AGE']);
  });

  it('leave no schema titles in the manifests (they only name TypeScript types)', () => {
    // A schema's title is a string; a property named title (a pull request's) is a schema.
    for (const def of KINDS) expect(JSON.stringify(customResourceDefinition(def))).not.toMatch(/"title":"/);
  });
});
