/**
 * Manifests the local cluster installs: YAML files read into objects, applied with one field
 * manager.
 *
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../src/api/index.ts';
import type { Kube } from '../src/kube/index.ts';

const FIELD_MANAGER = 'grove-local';

export async function manifestsIn(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  return (await Promise.all(files.map((f) => yamlObjects(join(dir, f))))).flat();
}

export async function yamlObjects(path: string): Promise<KubeObject[]> {
  return parseAllDocuments(await readFile(path, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

export async function installManifests(kube: Kube, objects: KubeObject[]): Promise<void> {
  for (const obj of objects) await kube.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
}
