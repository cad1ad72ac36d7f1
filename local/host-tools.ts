/**
 * The Debian packages a piece of the local cluster needs, checked before anything starts, so a
 * missing tool is named with the command that installs it instead of failing half-way (a clone
 * that waits forever for a restic that is not there).
 *
 * @module
 */
import { join } from 'node:path';
import { GroveError } from '../src/errors/index.ts';
import { fileExists } from './readiness.ts';

/** A package and a command (a name on PATH, or an absolute path) that proves it is installed. */
export interface HostTool {
  pkg: string;
  command: string;
}

/** The packages of `tools` that are not installed. */
export async function missingPackages(tools: readonly HostTool[], path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): Promise<string[]> {
  const missing: string[] = [];
  for (const { pkg, command } of tools) {
    const found = command.startsWith('/') ? await fileExists(command) : await onPath(command, path);
    if (!found && !missing.includes(pkg)) missing.push(pkg);
  }
  return missing;
}

/** Refuses, with the `apt-get` line that fixes it, when any of `tools` is missing. */
export async function requirePackages(tools: readonly HostTool[], what: string, path?: string): Promise<void> {
  const missing = await missingPackages(tools, path);
  if (missing.length > 0) {
    throw new GroveError('InvalidInput', `${what} needs Debian packages that are not installed: ${missing.join(' ')}\n  apt-get update && apt-get install -y ${missing.join(' ')}`);
  }
}

async function onPath(command: string, path: string): Promise<boolean> {
  for (const dir of path.split(':')) {
    if (dir && (await fileExists(join(dir, command)))) return true;
  }
  return false;
}
