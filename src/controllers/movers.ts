/**
 * Starting mover Jobs, the one way both the Backup controller and the Environment's data step
 * use. A Job that mounts a volume runs in the Environment's namespace and reads the Project's
 * mover Secret there. A Job that reaches a database runs in Grove's namespace and gets a Secret
 * of its own beside it — the repository and the database's credentials, read from the
 * Environment's namespace — which the Job then owns, so the two go together.
 *
 * @module
 */
import { FIELD_MANAGER, type KubeObject, type Project } from '../api/index.ts';
import { type BackupTarget, moverJobSecret, moverSecret } from '../data/index.ts';
import { projectRepository } from '../data/store/index.ts';
import { ReconcileError } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import { readOwnSecret } from '../secrets/index.ts';

export interface MoverStart {
  target: BackupTarget;
  job: KubeObject;
}

export async function startMovers(kube: Kube, input: { project: Project; namespace: string; jobs: readonly MoverStart[] }): Promise<void> {
  if (!input.jobs.length) return;
  const opts = { fieldManager: FIELD_MANAGER, force: true };
  const repo = await projectRepository(kube, input.project);
  const local = input.jobs.filter(({ job }) => job.metadata.namespace === input.namespace);
  if (local.length) await kube.apply(moverSecret(repo, input.namespace), opts);
  for (const { target, job } of input.jobs) {
    if (job.metadata.namespace === input.namespace) {
      await kube.apply(job, opts);
      continue;
    }
    const credentials = target.credentialsSecret ? await readOwnSecret(kube, input.namespace, target.credentialsSecret) : undefined;
    if (!credentials) throw new ReconcileError('CredentialsMissing', `Secret ${target.credentialsSecret ?? ''} of service ${target.name} is missing in ${input.namespace}`, 'wait', { requeueAfterMs: 10_000 });
    const secret = (jobUid?: string) => moverJobSecret({ job, target, namespace: input.namespace, repo, credentials, ...(jobUid ? { jobUid } : {}) });
    // The Secret first, so the pod finds it when it starts; then owned by the Job it serves.
    await kube.apply(secret(), opts);
    const applied = await kube.apply(job, opts);
    await kube.apply(secret(applied.metadata.uid), opts);
  }
}
