/**
 * Parses and validates `platform.yaml`. Returns every problem found, each with file, line,
 * column and field path (`platform.yaml:12:7: applications.web.port: must be an integer`), or
 * the manifest when there is none. Pure: no I/O, no clock.
 *
 * Parsing is bounded before any YAML is read: a size cap, a nesting cap found by a linear scan
 * (the YAML composer recurses, so deep nesting would otherwise exhaust the stack), and an alias
 * expansion cap (the "billion laughs" attack).
 *
 * @module
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Document } from 'yaml';
import type { Schema } from '../api/index.ts';
import { parseCron } from '../util/index.ts';
import { MANIFEST_SCHEMA } from './schema.ts';
import type { PlatformManifest } from './types.gen.ts';

export const MAX_MANIFEST_BYTES = 256 * 1024;
export const MAX_NESTING = 32;
export const MAX_ALIASES = 50;
/** The variables `${...}` may name in images, env values and commands. */
export const VARIABLES = ['GIT_COMMIT', 'GIT_BRANCH', 'ENVIRONMENT'] as const;

export interface ManifestError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Dotted field path, e.g. `applications.web.port`; empty for the whole file. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; manifest: PlatformManifest } | { ok: false; errors: ManifestError[] };

/** `platform.yaml:12:7: applications.web.port: must be an integer` */
export function formatError(e: ManifestError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
ajv.addKeyword({ keyword: 'x-error', schemaType: 'string' });
const validateSchema = ajv.compile<PlatformManifest>(MANIFEST_SCHEMA);

export function parseManifest(text: string, file = 'platform.yaml'): ParseResult {
  const at = (line: number, column: number, message: string, path = ''): ParseResult => ({ ok: false, errors: [{ file, line, column, path, message }] });

  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_MANIFEST_BYTES) return at(1, 1, `the file is ${bytes} bytes; a manifest may be at most ${MAX_MANIFEST_BYTES} bytes`);
  const deep = findExcessiveNesting(text);
  if (deep) return at(deep.line, deep.column, `nesting is deeper than ${MAX_NESTING} levels`);

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, strict: true, prettyErrors: false });
  const pos = (offset: number): { line: number; column: number } => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };

  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => ({ file, ...pos(e.pos[0]), path: '', message: yamlMessage(e.message) }));
  if (yamlProblems.length > 0) return { ok: false, errors: yamlProblems };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    return at(1, 1, `${(err as Error).message.replace(/\.$/, '')} (at most ${MAX_ALIASES} alias expansions)`);
  }
  if (value === null || value === undefined) return at(1, 1, 'the manifest is empty; it needs at least `version: 1`');
  const tooDeep = depthExceeds(value, MAX_NESTING);
  if (tooDeep) return at(1, 1, `nesting is deeper than ${MAX_NESTING} levels`);

  const locate = locator(doc, pos);
  const errors: ManifestError[] = [];
  const add = (path: Segment[], message: string, where: 'value' | 'key' = 'value'): void => {
    errors.push({ file, ...locate(path, where), path: dotted(path), message });
  };

  if (!validateSchema(value)) {
    for (const e of validateSchema.errors ?? []) schemaError(e, add);
  }
  crossReferences(value, add);

  if (errors.length > 0) return { ok: false, errors: dedupe(errors) };
  return { ok: true, manifest: value as PlatformManifest };
}

type Segment = string | number;
type Add = (path: Segment[], message: string, where?: 'value' | 'key') => void;

function yamlMessage(message: string): string {
  return message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}

function schemaError(e: ErrorObject, add: Add): void {
  const path = pointer(e.instancePath);
  const schema = (e.parentSchema ?? {}) as Schema;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return add([...path, String(p.missingProperty)], 'is required', 'key');
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const known = Object.keys(schema.properties ?? {});
      const guess = closest(field, known);
      return add([...path, field], `unknown field${guess ? `; did you mean "${guess}"?` : known.length ? `; expected one of: ${known.join(', ')}` : ''}`, 'key');
    }
    case 'propertyNames':
      return; // reported by the failing keyword inside it, which names the property
    case 'type':
      return add(path, TYPE_MESSAGES[String(p.type)] ?? `must be of type ${String(p.type)}`);
    case 'enum':
      return add(path, `must be one of: ${(p.allowedValues as unknown[]).join(', ')}`);
    case 'const':
      return add(path, `must be ${JSON.stringify(p.allowedValue)}`);
    case 'pattern': {
      const meaning = schema['x-error'];
      if (e.propertyName !== undefined) {
        return add([...path, e.propertyName], `"${e.propertyName}" is not a valid name: expected ${meaning ?? `a match for ${String(p.pattern)}`}`, 'key');
      }
      return add(path, meaning ? `must be ${meaning}` : `must match ${String(p.pattern)}`);
    }
    case 'minimum':
      return add(path, `must be at least ${String(p.limit)}`);
    case 'maximum':
      return add(path, `must be at most ${String(p.limit)}`);
    case 'minItems':
      return add(path, `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`);
    case 'maxItems':
      return add(path, `must have at most ${String(p.limit)} items`);
    case 'maxProperties':
      return add(path, `must have at most ${String(p.limit)} entries`);
    case 'minLength':
      return add(path, e.propertyName !== undefined ? 'must not be empty' : `must be at least ${String(p.limit)} characters`);
    case 'maxLength':
      return e.propertyName !== undefined
        ? add([...path, e.propertyName], `name is longer than ${String(p.limit)} characters`, 'key')
        : add(path, `must be at most ${String(p.limit)} characters`);
    default:
      return add(path, e.message ?? `fails ${e.keyword}`);
  }
}

const TYPE_MESSAGES: Record<string, string> = {
  integer: 'must be an integer',
  number: 'must be a number',
  string: 'must be a string',
  boolean: 'must be true or false',
  object: 'must be a mapping of keys to values',
  array: 'must be a list',
};

/** References between sections, and `${...}` variables: what a schema cannot say. */
function crossReferences(value: unknown, add: Add): void {
  const m = asRecord(value);
  if (!m) return;
  const applications = asRecord(m.applications) ?? {};
  const services = asRecord(m.services) ?? {};
  const appNames = Object.keys(applications);
  const serviceNames = Object.keys(services);

  for (const [name, raw] of Object.entries(applications)) {
    const app = asRecord(raw);
    if (!app) continue;
    for (const [key, target] of Object.entries(asRecord(app.relationships) ?? {})) {
      if (typeof target === 'string' && !serviceNames.includes(target)) {
        add(['applications', name, 'relationships', key], notDeclared('service', target, 'services', serviceNames));
      }
    }
    const health = asRecord(app.health);
    if (health && health.port === undefined && app.port === undefined) {
      add(['applications', name, 'health'], 'needs a port: set port on the application or health.port');
    }
    checkVariables(app, ['applications', name], add);
    for (const [cron, spec] of Object.entries(asRecord(app.crons) ?? {})) checkSchedule(asRecord(spec)?.schedule, ['applications', name, 'crons', cron, 'schedule'], add);
  }

  // A sanitized copy is one the manifest's own hook has scrubbed; without a hook it would be a full one.
  const hooked = appNames.filter((name) => asRecord(asRecord(applications[name])?.hooks)?.sanitize !== undefined);
  for (const [name, raw] of Object.entries(services)) {
    if (asRecord(raw)?.clone === 'sanitized' && hooked.length === 0) {
      add(['services', name, 'clone'], 'sanitized needs a sanitize hook to scrub the copy (applications.<name>.hooks.sanitize), and no application has one; use full to copy the data as it is');
    }
  }

  for (const [name, raw] of Object.entries(asRecord(m.routes) ?? {})) {
    const upstream = asRecord(raw)?.upstream;
    if (typeof upstream !== 'string') continue;
    if (!appNames.includes(upstream)) add(['routes', name, 'upstream'], notDeclared('application', upstream, 'applications', appNames));
    else if (asRecord(applications[upstream])?.port === undefined) add(['routes', name, 'upstream'], `application "${upstream}" has no port to route to`);
  }

  for (const [type, raw] of Object.entries(asRecord(m.environments) ?? {})) {
    const override = asRecord(raw);
    if (!override) continue;
    for (const name of Object.keys(asRecord(override.applications) ?? {})) {
      if (!appNames.includes(name)) add(['environments', type, 'applications', name], notDeclared('application', name, 'applications', appNames), 'key');
      else checkVariables(asRecord(asRecord(override.applications)?.[name]) ?? {}, ['environments', type, 'applications', name], add);
    }
    for (const name of Object.keys(asRecord(override.services) ?? {})) {
      if (!serviceNames.includes(name)) add(['environments', type, 'services', name], notDeclared('service', name, 'services', serviceNames), 'key');
    }
  }

  const lifecycle = asRecord(m.lifecycle);
  const ttl = typeof lifecycle?.ttl === 'string' ? parseDuration(lifecycle.ttl) : undefined;
  const sleep = typeof lifecycle?.sleepAfter === 'string' ? parseDuration(lifecycle.sleepAfter) : undefined;
  if (ttl !== undefined && sleep !== undefined && sleep >= ttl) add(['lifecycle', 'sleepAfter'], 'must be shorter than ttl');
  checkSchedule(asRecord(m.backups)?.schedule, ['backups', 'schedule'], add);
}

/** The schema checks a schedule's shape; this checks each field's values. */
function checkSchedule(schedule: unknown, path: Segment[], add: Add): void {
  // A schedule of the wrong shape already has the schema's error.
  if (typeof schedule !== 'string' || !/^(@\w+|(\S+\s+){4}\S+)$/.test(schedule)) return;
  const parsed = parseCron(schedule);
  if (!parsed.ok) add(path, `invalid cron schedule "${schedule}": ${parsed.error}`);
}

function notDeclared(what: string, name: string, section: string, known: string[]): string {
  const guess = closest(name, known);
  return `${what} "${name}" is not declared under ${section}${guess ? `; did you mean "${guess}"?` : ''}`;
}

/** Strings under an application that are expanded: image, env values, hooks and cron commands. */
function checkVariables(app: Record<string, unknown>, base: Segment[], add: Add): void {
  const check = (s: unknown, path: Segment[]): void => {
    if (typeof s !== 'string') return;
    for (const match of s.matchAll(/\$\{([^}]*)\}/g)) {
      const name = match[1] ?? '';
      if (!(VARIABLES as readonly string[]).includes(name)) {
        add(path, `unknown variable \${${name}}; use ${VARIABLES.map((v) => `\${${v}}`).join(', ')}`);
      }
    }
  };
  check(app.image, [...base, 'image']);
  for (const [k, v] of Object.entries(asRecord(app.env) ?? {})) check(v, [...base, 'env', k]);
  const hooks = asRecord(app.hooks) ?? {};
  for (const hook of Object.keys(hooks)) {
    const args = hooks[hook];
    if (Array.isArray(args)) args.forEach((a, i) => check(a, [...base, 'hooks', hook, i]));
  }
  for (const [name, cron] of Object.entries(asRecord(app.crons) ?? {})) {
    const args = asRecord(cron)?.command;
    if (Array.isArray(args)) args.forEach((a, i) => check(a, [...base, 'crons', name, 'command', i]));
  }
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** `72h` → 259200 (seconds). Undefined for anything that is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})(s|m|h|d|w)$/.exec(text);
  return match ? Number(match[1]) * (UNITS[match[2] as string] as number) : undefined;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function pointer(instancePath: string): Segment[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function dotted(path: Segment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][\w-]*$/.test(s) ? `${i ? '.' : ''}${s}` : `[${JSON.stringify(s)}]`)).join('');
}

/**
 * Finds where a path is in the source. For `key`, the position of the key (or of the deepest
 * existing ancestor's key when the field is missing); for `value`, the value itself.
 */
function locator(doc: Document, pos: (offset: number) => { line: number; column: number }) {
  return (path: Segment[], where: 'value' | 'key'): { line: number; column: number } => {
    let node: unknown = doc.contents;
    let keyNode: Node | undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const target = where === 'key' ? (keyNode ?? (node as Node | undefined)) : ((node as Node | null | undefined) ?? keyNode);
    const offset = target?.range?.[0] ?? 0;
    return pos(offset);
  };
}

/** Linear scan for flow ([ {) and block (indentation) nesting beyond the limit. */
function findExcessiveNesting(text: string): { line: number; column: number } | undefined {
  let flow = 0;
  let line = 1;
  let column = 0;
  let quote: string | undefined;
  let lineStart = true;
  let indent = 0;
  for (const ch of text) {
    column++;
    if (ch === '\n') {
      line++;
      column = 0;
      lineStart = true;
      indent = 0;
      if (quote === "'" || quote === '"') continue;
      quote = undefined;
      continue;
    }
    if (lineStart) {
      if (ch === ' ') {
        indent++;
        // Block nesting takes at least one column per level.
        if (indent > MAX_NESTING * 8) return { line, column };
        continue;
      }
      lineStart = false;
    }
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#') quote = '\n';
    else if (ch === '[' || ch === '{') {
      if (++flow > MAX_NESTING) return { line, column };
    } else if ((ch === ']' || ch === '}') && flow > 0) flow--;
  }
  return undefined;
}

function depthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

function dedupe(errors: ManifestError[]): ManifestError[] {
  const seen = new Set<string>();
  return errors
    .filter((e) => {
      const key = `${e.path}\n${e.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}
