/**
 * `grove validate [file]`: checks a platform manifest the way Grove will, offline, and prints
 * every problem as `file:line:column: field: message`.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { GroveError } from '../errors/index.ts';
import { formatError, parseManifest } from '../manifest/index.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove validate [file]

Checks a platform manifest (default: ./platform.yaml) against the schema
(schemas/platform.schema.json) and its cross-references. Prints every error
as file:line:column: field: message and exits 1 if there is any.
`;

export async function validateCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 1) throw new GroveError('InvalidInput', `validate takes one file (got ${positionals.length})\n\n${HELP}`);
  const file = positionals[0] ?? 'platform.yaml';
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new GroveError('InvalidInput', `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message}`, { cause });
  });
  const result = parseManifest(text, file);
  if (!result.ok) {
    for (const e of result.errors) io.stdout.write(`${formatError(e)}\n`);
    io.stderr.write(`${file}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  const m = result.manifest;
  const count = (o: object | undefined, noun: string): string => `${Object.keys(o ?? {}).length} ${noun}${Object.keys(o ?? {}).length === 1 ? '' : 's'}`;
  io.stdout.write(`${file}: valid (${count(m.applications, 'application')}, ${count(m.services, 'service')}, ${count(m.routes, 'route')})\n`);
  return 0;
}
