/**
 * An Environment's deletion: a final Backup when the manifest backs its type up, then the
 * namespace Grove made is deleted, and once it is gone the finalizer is released.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, type Backup, CONDITIONS, type Environment, environmentNamespace, FIELD_MANAGER, FINALIZER, findCondition, type KubeObject, LABELS, type Project, REASONS, setCondition } from '../../api/index.ts';
import { environmentEvent } from '../../audit/index.ts';
import { backupFor, backupState, finalBackupApplies } from '../../data/index.ts';
import { messageOf } from '../../errors/index.ts';
import type { Logger } from '../../log/index.ts';
import { type Backups, parseDuration } from '../../manifest/index.ts';
import type { ReconcileResult } from '../../runtime/index.ts';
import { createOnce, manifestAt, writeStatus } from '../shared.ts';
import type { StepDeps } from './context.ts';

/** The deletion of one Environment, moved on as far as it can go now. */
export async function finalizeEnvironment(deps: StepDeps, env: Environment, log: Logger): Promise<ReconcileResult> {
  for (const entry of env.status?.inventory ?? []) deps.records.delete(entry.id);
  deps.forcedAt.delete(`${env.metadata.namespace}/${env.metadata.name}`);
  const backedUp = await finalBackup(deps, env, log);
  if (backedUp !== 'done') return backedUp;
  return releaseNamespace(deps, env, log);
}

/**
 * Before an Environment whose type is (or ever was) backed up loses its namespace, a final Backup
 * must complete.
 * Until it has, the namespace stays and `BackedUp` says why; nothing deletes the data without it
 * unless the Environment carries `grove.dev/skip-final-backup: "true"`.
 */
async function finalBackup(deps: StepDeps, env: Environment, log: Logger): Promise<'done' | { requeueAfterMs: number }> {
  if (!env.metadata.finalizers?.includes(FINALIZER) || env.metadata.annotations?.[ANNOTATIONS.skipFinalBackup] === 'true') return 'done';
  const revision = env.status?.observedRevision;
  if (!revision) return 'done'; // never applied: there is no data
  const project = await deps.read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace: env.metadata.namespace, name: env.spec.project });
  if (!project?.spec.backupStoreRef) return 'done';
  const mark = async (status: 'True' | 'False', reason: string, message: string): Promise<void> => {
    const now = new Date(deps.clock.now()).toISOString();
    const conditions = setCondition(env.status?.conditions, { type: CONDITIONS.backedUp, status, reason, message }, now, env.metadata.generation);
    await writeStatus(deps.kube, env, { ...env.status, conditions });
  };
  let backups: Backups | undefined;
  try {
    // No valid manifest at this revision: nothing was ever planned from it, so there is no data.
    const manifest = await manifestAt(deps.kube, deps.git, project, env, revision);
    if (!manifest) return 'done';
    backups = manifest.backups;
  } catch (err) {
    await mark('False', REASONS.finalBackupFailed, `Cannot read the manifest to decide on a final backup: ${messageOf(err)}. Set ${ANNOTATIONS.skipFinalBackup}: "true" to delete without one.`);
    return { requeueAfterMs: 30_000 };
  }
  if (!finalBackupApplies(backups, env)) return 'done';

  const name = `${env.metadata.name}-final`;
  const backup = await deps.read<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace: env.metadata.namespace, name });
  if (!backup) {
    const retain = backups.retain ? parseDuration(backups.retain) : undefined;
    if (await createOnce(deps.kube, backupFor(env, name, 'final', retain))) log.info({ backup: name }, 'Created the final backup before deletion');
    await mark('False', REASONS.finalBackupRunning, `Waiting for Backup ${name} before deleting the namespace`);
    return { requeueAfterMs: 5_000 };
  }
  const { state, message } = backupState(backup);
  if (state === 'completed') {
    if (findCondition(env.status?.conditions, CONDITIONS.backedUp)?.status !== 'True') await mark('True', REASONS.finalBackupCompleted, `Backup ${name} completed`);
    return 'done';
  }
  if (state === 'failed') {
    await mark('False', REASONS.finalBackupFailed, `Backup ${name} failed: ${message}. The namespace and its data stay; set ${ANNOTATIONS.skipFinalBackup}: "true" to delete without a final backup.`);
    return { requeueAfterMs: 60_000 };
  }
  await mark('False', REASONS.finalBackupRunning, `Waiting for Backup ${name} before deleting the namespace${message ? `: ${message}` : ''}`);
  return { requeueAfterMs: 5_000 };
}

/** Deletes the namespace Grove made for the Environment; the finalizer goes once it is gone. */
async function releaseNamespace(deps: StepDeps, env: Environment, log: Logger): Promise<ReconcileResult> {
  if (!env.metadata.finalizers?.includes(FINALIZER)) return {};
  const target = environmentNamespace(env.spec.project, env.metadata.name as string);
  const ns = await deps.kube.get<KubeObject>({ apiVersion: 'v1', kind: 'Namespace', name: target });
  if (ns && ownedBy(ns, env)) {
    if (!ns.metadata.deletionTimestamp) {
      await deps.kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: target }, ns.metadata.uid ? { uid: ns.metadata.uid } : {});
      log.info({ namespace: target }, 'Deleted the environment namespace');
    }
    return { requeueAfterMs: 2_000 };
  }
  const finalizers = (env.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  await deps.kube.mergePatch(
    { apiVersion: API_VERSION, kind: 'Environment', namespace: env.metadata.namespace, name: env.metadata.name as string },
    { metadata: { resourceVersion: env.metadata.resourceVersion, finalizers } },
    { fieldManager: FIELD_MANAGER },
  );
  log.info({}, 'Released the finalizer');
  // Git-driven Environments are deleted by the Project controller or by expiry, which record why; this is the rest.
  if (env.metadata.labels?.[LABELS.source] !== 'git' && findCondition(env.status?.conditions, CONDITIONS.expiring)?.reason !== REASONS.expired) {
    await deps.audit.record(environmentEvent({ env, action: 'delete', now: deps.clock.now(), discriminator: env.metadata.uid ?? '' }));
  }
  return {};
}

export function ownedBy(ns: KubeObject, env: Environment): boolean {
  const labels = ns.metadata.labels ?? {};
  return labels[LABELS.environment] === env.metadata.name && labels[LABELS.environmentNamespace] === env.metadata.namespace && labels[LABELS.project] === env.spec.project;
}
