// Shared helpers of the integration tests: the cluster started by setup.ts, a client for it, and
// a fresh namespace per test file so files can run side by side.
import { randomBytes } from 'node:crypto';
import { expect, inject } from 'vitest';
import { ANNOTATIONS, type KubeObject } from '../../src/api/index.ts';
import { type Kube, kubeFromFile } from '../../src/kube/index.ts';
import { claimVolumePath } from '../../local/cluster.ts';

export function cluster() {
  return inject('cluster');
}

let client: Kube | undefined;
export function kube(): Kube {
  client ??= kubeFromFile(cluster().kubeconfig);
  return client;
}

/** Creates a namespace with a unique name for one test file. */
export async function testNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kube().create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

/** A Secret that the Grove objects `usableBy` (`Project/shop`, `BackupStore/store`) may use. */
export async function createSecret(namespace: string, name: string, stringData: Record<string, string>, usableBy: string[]): Promise<void> {
  await kube().create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, annotations: { [ANNOTATIONS.usableBy]: usableBy.join(', ') } }, stringData } as KubeObject);
}

/** Adds `user` (`Project/shop`) to the Grove objects a Secret lets use it. */
export async function allowSecretUse(namespace: string, name: string, user: string): Promise<void> {
  const secret = await kube().getMetadata({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  const users = (secret?.metadata.annotations?.[ANNOTATIONS.usableBy] ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  await kube().mergePatch({ apiVersion: 'v1', kind: 'Secret', namespace, name }, { metadata: { annotations: { [ANNOTATIONS.usableBy]: [...users, user].join(', ') } } }, { fieldManager: 'test' });
}

export type Conditioned = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };

export function conditionStatus(obj: Conditioned | undefined, type: string): string | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type)?.status;
}

/** The host directory of a claim's volume (the local CSI driver's), once the claim is bound. */
export async function volumeDir(namespace: string, claim: string): Promise<string> {
  const phase = async () => (await kube().get<KubeObject & { status?: { phase?: string } }>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: claim }))?.status?.phase;
  await expect.poll(phase, { timeout: 60_000, interval: 500 }).toBe('Bound');
  const dir = await claimVolumePath(kube(), cluster(), namespace, claim);
  if (!dir) throw new Error(`claim ${claim} in ${namespace} is not on a volume of the local CSI driver`);
  return dir;
}
