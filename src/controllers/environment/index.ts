/**
 * The Environment controller. It reads the Environment's `platform.yaml` at its revision from
 * the Project's repository and validates it: a broken manifest sets `ManifestValid=False` with
 * every error and its position, and stalls this Environment only — no other Environment is
 * read or touched.
 *
 * Status is computed in memory and written once, at the end, and only when it changed.
 *
 * @module
 */
import { removeCondition, setCondition } from '../../api/conditions.ts';
import { ANNOTATIONS, CONDITIONS, FIELD_MANAGER, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import { environmentNamespace } from '../../api/names.ts';
import type { Environment, EnvironmentStatus, Project } from '../../api/types.gen.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import { formatError, parseManifest } from '../../manifest/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import type { GitRemote, GitSource } from '../../source/git/index.ts';
import { remoteOf } from '../remote.ts';

export interface EnvironmentControllerDeps {
  kube: Kube;
  git: GitSource;
  clock: Clock;
}

export function environmentReconciler(deps: EnvironmentControllerDeps): Reconciler {
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const env = await deps.kube.get<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name });
    if (!env || env.metadata.deletionTimestamp) return {};
    const now = new Date(deps.clock.now()).toISOString();
    const generation = env.metadata.generation;
    const status: EnvironmentStatus = { ...env.status, observedGeneration: generation, namespace: environmentNamespace(env.spec.project, name) };
    const mark = (type: string, s: 'True' | 'False' | 'Unknown', reason: string, message: string): void => {
      status.conditions = setCondition(status.conditions, { type, status: s, reason, message }, now, generation);
    };
    const actor = {
      ...(env.metadata.annotations?.[ANNOTATIONS.agent] ? { agent: env.metadata.annotations[ANNOTATIONS.agent] } : {}),
      ...(env.metadata.annotations?.[ANNOTATIONS.onBehalfOf] ? { onBehalfOf: env.metadata.annotations[ANNOTATIONS.onBehalfOf] } : {}),
      ...(env.metadata.annotations?.[ANNOTATIONS.task] ? { task: env.metadata.annotations[ANNOTATIONS.task] } : {}),
    };
    if (Object.keys(actor).length) status.actor = { ...actor, source: 'push' };

    try {
      const project = await deps.kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: env.spec.project });
      if (!project) {
        throw new ReconcileError(REASONS.projectNotFound, `Project ${env.spec.project} does not exist in namespace ${namespace}`, 'wait', { requeueAfterMs: 60_000 });
      }
      const remote = await remoteOf(deps.kube, project);
      const revision = env.spec.revision ?? (await headOf(deps.git, remote, env.spec.branch));
      const manifestPath = project.spec.manifestPath ?? 'platform.yaml';

      let text: string | undefined;
      try {
        text = await deps.git.readFile(remote, { branch: env.spec.branch, commit: revision }, manifestPath);
      } catch (err) {
        if (err instanceof GroveError && err.code === 'NotFound') throw new ReconcileError(REASONS.revisionNotFound, messageOf(err), 'stall', { cause: err });
        throw new ReconcileError(REASONS.gitUnavailable, messageOf(err), 'retry', { cause: err });
      }
      status.observedRevision = revision;
      if (text === undefined) {
        mark(CONDITIONS.manifestValid, 'False', REASONS.manifestNotFound, `${manifestPath} does not exist at ${revision}`);
        throw new ReconcileError(REASONS.manifestNotFound, `${manifestPath} does not exist at ${revision}`, 'stall');
      }
      const parsed = parseManifest(text, manifestPath);
      if (!parsed.ok) {
        const message = `${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'} at ${revision.slice(0, 12)}:\n${parsed.errors.map(formatError).join('\n')}`;
        mark(CONDITIONS.manifestValid, 'False', REASONS.manifestInvalid, message);
        log.info({ revision, errors: parsed.errors.length }, 'Found the manifest invalid');
        throw new ReconcileError(REASONS.manifestInvalid, message, 'stall');
      }
      mark(CONDITIONS.manifestValid, 'True', REASONS.manifestValid, `${manifestPath} at ${revision.slice(0, 12)} is valid`);
      status.conditions = removeCondition(status.conditions, CONDITIONS.stalled);
      mark(CONDITIONS.reconciling, 'True', REASONS.progressing, 'The manifest is valid; its workloads are planned next');
      mark(CONDITIONS.ready, 'Unknown', REASONS.progressing, `Revision ${revision.slice(0, 12)} validated`);
      return {};
    } catch (err) {
      const reason = err instanceof ReconcileError ? err.reason : 'ReconcileFailed';
      mark(CONDITIONS.ready, 'False', reason, messageOf(err));
      if (err instanceof ReconcileError && err.disposition === 'stall') {
        status.conditions = removeCondition(status.conditions, CONDITIONS.reconciling);
        mark(CONDITIONS.stalled, 'True', reason, messageOf(err));
      } else mark(CONDITIONS.reconciling, 'True', 'ProgressingWithRetry', messageOf(err));
      throw err;
    } finally {
      await writeStatus(deps.kube, env, status);
    }
  };
}

async function headOf(git: GitSource, remote: GitRemote, branch: string): Promise<string> {
  const head = (await git.listBranches(remote)).get(branch);
  if (!head) throw new ReconcileError(REASONS.revisionNotFound, `branch ${branch} does not exist in the repository`, 'wait', { requeueAfterMs: 60_000 });
  return head;
}

async function writeStatus(kube: Kube, env: Environment, status: EnvironmentStatus): Promise<void> {
  if (JSON.stringify(env.status ?? {}) === JSON.stringify(status)) return;
  await kube.applyStatus(
    { apiVersion: API_VERSION, kind: 'Environment', metadata: { name: env.metadata.name, namespace: env.metadata.namespace }, status },
    { fieldManager: FIELD_MANAGER, force: true },
  );
}
