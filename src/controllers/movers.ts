/**
 * Starting mover Jobs, the one way both the Backup controller and the Environment's data step
 * use: each Job in Grove's namespace gets a Secret of its own beside it — the repository, and a
 * database's credentials read from the Environment's namespace — which the Job then owns, so the
 * two go together.
 *
 * @module
 */
import { FIELD_MANAGER, type KubeObject } from '../api/index.ts';
import { type BackupTarget, LEGACY_MOVER_SECRET, moverJobSecret } from '../data/index.ts';
import type { ResticRepository } from '../data/restic/index.ts';
import { ReconcileError } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import { readOwnSecret } from '../secrets/index.ts';

export interface MoverStart {
  target: BackupTarget;
  job: KubeObject;
}

/** Starts each Job with its Secret; `repo` is the Project's repository, which the caller has read already (a schema mover needs none). */
export async function startMovers(kube: Kube, input: { repo?: ResticRepository; namespace: string; jobs: readonly MoverStart[] }): Promise<void> {
  const { repo } = input;
  const opts = { fieldManager: FIELD_MANAGER, force: true };
  for (const { target, job } of input.jobs) {
    const credentials = target.credentialsSecret ? await readOwnSecret(kube, input.namespace, target.credentialsSecret) : undefined;
    if (target.credentialsSecret && !credentials) throw new ReconcileError('CredentialsMissing', `Secret ${target.credentialsSecret} of service ${target.name} is missing in ${input.namespace}`, 'wait', { requeueAfterMs: 10_000 });
    const secret = (jobUid?: string) => moverJobSecret({ job, target, namespace: input.namespace, ...(repo ? { repo } : {}), ...(credentials ? { credentials } : {}), ...(jobUid ? { jobUid } : {}) });
    // The Secret first, so the pod finds it when it starts; then owned by the Job it serves.
    await kube.apply(secret(), opts);
    const applied = await kube.apply(job, opts);
    await kube.apply(secret(applied.metadata.uid), opts);
  }
}

/** The namespaces this process has already cleared of an earlier version's mover Secret. */
const cleared = new Set<string>();

/**
 * Earlier versions kept the store's keys in each Environment's namespace for their movers: the
 * first time this process touches such a namespace's data, that Secret goes.
 */
export async function clearLegacyMoverSecret(kube: Kube, namespace: string): Promise<void> {
  if (cleared.has(namespace)) return;
  await kube.delete({ apiVersion: 'v1', kind: 'Secret', namespace, name: LEGACY_MOVER_SECRET });
  cleared.add(namespace);
}
