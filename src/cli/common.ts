/**
 * What the cluster-facing commands share: the kubeconfig they use, and how they print —
 * aligned tables for people, JSON or YAML for machines.
 *
 * @module
 */
import { homedir } from 'node:os';
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

