import { describe, expect, it } from 'vitest';
import { lineDiff, schemaChange, schemaLines, schemaSummary, unifiedDiff } from './schema.ts';

// The head of a pg_dump --schema-only of PostgreSQL 15, as it prints it.
const before = String.raw`--
-- PostgreSQL database dump
--

\restrict 6tGqKkY1vsv0y9cJbvR3WQ

-- Dumped from database version 15.14
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.customers (
    id bigint NOT NULL,
    name text NOT NULL,
    email text NOT NULL
);

CREATE TABLE public.products (
    id bigint NOT NULL,
    name text NOT NULL,
    price_cents integer NOT NULL
);

\unrestrict 6tGqKkY1vsv0y9cJbvR3WQ
`;

const after = before
  .replaceAll('6tGqKkY1vsv0y9cJbvR3WQ', 'Zm9vYmFyYmF6cXV4cXV1eA')
  .replace('    email text NOT NULL\n', '    email text NOT NULL,\n    loyalty_points integer DEFAULT 0 NOT NULL\n');

describe('schemaLines', () => {
  it('keeps the definitions and drops comments, settings and the restrict keys', () => {
    expect(schemaLines(before)).toEqual([
      'CREATE TABLE public.customers (',
      '    id bigint NOT NULL,',
      '    name text NOT NULL,',
      '    email text NOT NULL',
      ');',
      'CREATE TABLE public.products (',
      '    id bigint NOT NULL,',
      '    name text NOT NULL,',
      '    price_cents integer NOT NULL',
      ');',
    ]);
  });
});

describe('lineDiff', () => {
  it('finds the shortest edit', () => {
    const diff = lineDiff(['a', 'b', 'c', 'a', 'b', 'b', 'a'], ['c', 'b', 'a', 'b', 'a', 'c']);
    expect(diff.filter((d) => d.op !== ' ')).toHaveLength(5);
    // Applying it gives the new lines back, and undoing it the old ones.
    expect(diff.filter((d) => d.op !== '-').map((d) => d.line)).toEqual(['c', 'b', 'a', 'b', 'a', 'c']);
    expect(diff.filter((d) => d.op !== '+').map((d) => d.line)).toEqual(['a', 'b', 'c', 'a', 'b', 'b', 'a']);
  });

  it('handles empty sides', () => {
    expect(lineDiff([], ['x'])).toEqual([{ op: '+', line: 'x' }]);
    expect(lineDiff(['x'], [])).toEqual([{ op: '-', line: 'x' }]);
    expect(lineDiff([], [])).toEqual([]);
  });

  it('keeps a long unchanged schema unchanged around one edit', () => {
    const a = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    const b = [...a.slice(0, 2500), 'new', ...a.slice(2501)];
    const changed = lineDiff(a, b).filter((d) => d.op !== ' ');
    expect(changed).toEqual([
      { op: '-', line: 'line 2500' },
      { op: '+', line: 'new' },
    ]);
  });
});

describe('unifiedDiff', () => {
  it('shows each change with its context, hunks apart', () => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
    const b = ['1', 'two', '3', '4', '5', '6', '7', '8', '9', '10', '11', 'twelve'];
    expect(unifiedDiff(lineDiff(a, b), 1).split('\n')).toEqual(['@@', ' 1', '-2', '+two', ' 3', '@@', ' 11', '-12', '+twelve']);
  });
});

describe('schemaChange', () => {
  it('reports the added column as a diff with its table around it', () => {
    const change = schemaChange('db', before, after);
    expect(change).toMatchObject({ service: 'db', changed: true, added: 2, removed: 1 });
    expect(change.diff).toContain('-    email text NOT NULL\n+    email text NOT NULL,\n+    loyalty_points integer DEFAULT 0 NOT NULL');
    expect(change.diff).toContain(' CREATE TABLE public.customers (');
    expect(schemaSummary([change, schemaChange('other', before, before)])).toBe('db: +2 −1 lines');
  });

  it('finds no change when only the dump’s own noise differs', () => {
    expect(schemaChange('db', before, before.replaceAll('6tGqKkY1vsv0y9cJbvR3WQ', 'other'))).toEqual({ service: 'db', changed: false });
    expect(schemaSummary([{ service: 'db', changed: false }])).toBe('no schema change');
  });

  it('cuts a diff longer than the limit at a line, and says so', () => {
    const big = Array.from({ length: 2000 }, (_, i) => `CREATE TABLE public.t${i} (id bigint);`).join('\n');
    const change = schemaChange('db', '', big, 1000);
    expect(change.diff!.length).toBeLessThanOrEqual(1000);
    expect(change.diff).toMatch(/\n\+CREATE TABLE public\.t\d+ \(id bigint\);\n… \(cut: the whole diff is longer\)$/);
    expect(change.added).toBe(2000);
  });
});
