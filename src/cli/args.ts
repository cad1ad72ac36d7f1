/**
 * Command lines, parsed one way for every command. Apart from `common.ts` so that commands which
 * never talk to the API server (`grove mover` in a Job) do not load the Kubernetes client.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GroveError } from '../errors/index.ts';

/** A command's options and positional arguments, strictly: an unknown option is an error that shows the usage. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new GroveError('InvalidInput', `${(err as Error).message}\n\n${usage}`);
  }
}
