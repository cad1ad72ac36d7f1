/**
 * What the cluster-facing commands share: the kubeconfig they use, and how they print —
 * aligned tables for people, JSON or YAML for machines.
 *
 * @module
 */
import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { GroveError } from '../errors/index.ts';
import { type Kube, kubeFromEnvironment, type KubeOptions } from '../kube/index.ts';

export type OutputFormat = 'table' | 'json' | 'yaml';

/** The options of every command that talks to a cluster, for `parseArgs`. */
export const CLUSTER_OPTIONS = {
  namespace: { type: 'string', short: 'n', default: 'default' },
  kubeconfig: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `-o table|json|yaml`, for `parseArgs`. */
export const OUTPUT_OPTION = { output: { type: 'string', short: 'o', default: 'table' } } as const;

export function outputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  throw new GroveError('InvalidInput', `--output must be table, json or yaml (got "${value}")`);
}

/** `--kubeconfig`, else `$KUBECONFIG`, else the pod's ServiceAccount, else `~/.kube/config`: kubectl's order. */
export function kubeOf(flag: string | undefined, env: NodeJS.ProcessEnv, opts: KubeOptions = {}): Kube {
  return kubeFromEnvironment(flag, env, homedir(), opts);
}

export function render(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}


/** `--timeout SECONDS`: a whole number of seconds, at least 1. */
export function timeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1) throw new GroveError('InvalidInput', `--timeout must be a whole number of seconds (got "${value}")`);
  return seconds;
}

/**
 * Reads an object once a second until `done` says it has finished or `seconds` pass, telling
 * `progress` each new state line once; returns the last object read and whether it finished.
 */
export async function follow<T>(opts: { read: () => Promise<T | undefined>; line: (current: T | undefined) => string; done: (current: T | undefined) => boolean; seconds: number; progress?: (line: string) => void }): Promise<{ last: T | undefined; finished: boolean }> {
  const deadline = Date.now() + opts.seconds * 1000;
  let said = '';
  for (;;) {
    const current = await opts.read();
    const line = opts.line(current);
    if (line !== said) opts.progress?.(line);
    said = line;
    const finished = opts.done(current);
    if (finished || Date.now() > deadline) return { last: current, finished };
    await sleep(1000);
  }
}

/** The Ready condition in words, for `follow`'s progress. */
export function readyLine(obj: { status?: { conditions?: Array<{ type: string; reason: string; message: string }> } } | undefined): string {
  const ready = obj?.status?.conditions?.find((c) => c.type === 'Ready');
  return ready ? `${ready.reason}: ${ready.message}` : 'Waiting for the operator';
}
