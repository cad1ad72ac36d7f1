/**
 * What a migration did to a database's schema: the dump before and after a rehearsed deploy
 * hook (`grove mover schema`), compared line by line. Pure, so a reviewer's diff is tested as
 * text.
 *
 * The dumps are normalised first: comments, session settings and pg_dump's `\restrict` lines
 * (whose key is new on every run) say nothing about the schema and would show as changes.
 *
 * @module
 */
import type { SchemaChange } from '../api/index.ts';

/** The status holds at most this much of a diff (the CRD's limit). */
export const SCHEMA_DIFF_LIMIT = 16_384;

const NOISE = [/^--/, /^SET /, /^SELECT pg_catalog\.set_config\(/, /^\\(un)?restrict /, /^\/\*!\d+ .*\*\/;$/];

/** The dump's lines that describe the schema, in order, without trailing spaces. */
export function schemaLines(dump: string): string[] {
  return dump
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '' && !NOISE.some((re) => re.test(line)));
}

export interface DiffLine {
  op: ' ' | '-' | '+';
  line: string;
}

/**
 * The shortest edit from `a` to `b` (Myers' algorithm), as kept, removed and added lines. The
 * common head and tail are set aside first: a migration touches a few statements of many.
 */
export function lineDiff(a: readonly string[], b: readonly string[]): DiffLine[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x0 = a.slice(head, a.length - tail);
  const y0 = b.slice(head, b.length - tail);
  const keep = (lines: readonly string[]): DiffLine[] => lines.map((line) => ({ op: ' ', line }));
  return [...keep(a.slice(0, head)), ...middle(x0, y0), ...keep(a.slice(a.length - tail))];
}

/** Beyond this many edits, the rest is shown as replaced wholesale: the search's cost grows with their square. */
const MAX_EDITS = 2000;

function middle(a: readonly string[], b: readonly string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const replaced = (): DiffLine[] => [...a.map((line) => ({ op: '-' as const, line })), ...b.map((line) => ({ op: '+' as const, line }))];
  if (n === 0 || m === 0) return replaced();
  // v[k]: the furthest x on diagonal k; trace[d]: v as it was before round d.
  const v = new Map<number, number>([[1, 0]]);
  const trace: Array<Map<number, number>> = [];
  const at = (map: Map<number, number>, k: number): number => map.get(k) ?? -1;
  search: for (let d = 0; d <= n + m; d++) {
    if (d > MAX_EDITS) return replaced();
    trace.push(new Map(v));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && at(v, k - 1) < at(v, k + 1)) ? at(v, k + 1) : at(v, k - 1) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v.set(k, x);
      if (x >= n && y >= m) break search;
    }
  }
  const out: DiffLine[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const before = trace[d] as Map<number, number>;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(before, k - 1) < at(before, k + 1)) ? k + 1 : k - 1;
    const prevX = at(before, prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push({ op: ' ', line: a[x - 1] as string });
      x--;
      y--;
    }
    if (d === 0) break;
    if (x === prevX) out.push({ op: '+', line: b[--y] as string });
    else out.push({ op: '-', line: a[--x] as string });
  }
  return out.reverse();
}

/** The changed lines with `context` unchanged lines around each, hunks apart by `@@`. */
export function unifiedDiff(diff: readonly DiffLine[], context = 3): string {
  const near = diff.map(() => false);
  diff.forEach((d, i) => {
    if (d.op === ' ') return;
    for (let j = Math.max(0, i - context); j <= Math.min(diff.length - 1, i + context); j++) near[j] = true;
  });
  const out: string[] = [];
  let gap = true;
  diff.forEach((d, i) => {
    if (!near[i]) {
      gap = true;
      return;
    }
    if (gap) out.push('@@');
    gap = false;
    out.push(`${d.op}${d.line}`);
  });
  return out.join('\n');
}

/** One service's entry in a Rehearsal's result, from its schema dumps before and after the hook. */
export function schemaChange(service: string, before: string, after: string, limit = SCHEMA_DIFF_LIMIT): SchemaChange {
  const diff = lineDiff(schemaLines(before), schemaLines(after));
  const added = diff.filter((d) => d.op === '+').length;
  const removed = diff.filter((d) => d.op === '-').length;
  if (!added && !removed) return { service, changed: false };
  let text = unifiedDiff(diff);
  if (text.length > limit) {
    const cut = '\n… (cut: the whole diff is longer)';
    text = text.slice(0, text.lastIndexOf('\n', limit - cut.length)) + cut;
  }
  return { service, changed: true, added, removed, diff: text };
}

/** `db: +3 −1 lines` per changed service; `no schema change` when none changed. */
export function schemaSummary(changes: readonly SchemaChange[]): string {
  const changed = changes.filter((c) => c.changed);
  if (!changed.length) return changes.length ? 'no schema change' : '';
  return changed.map((c) => `${c.service}: +${c.added ?? 0} −${c.removed ?? 0} lines`).join(', ');
}
