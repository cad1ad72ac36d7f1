/**
 * The Project controller: lists the repository's branches and makes the Project's Environments
 * match them (create, move the revision, delete), under the rules of `desired.ts`.
 *
 * Level-triggered: a poll, a webhook and a changed Environment all just enqueue the Project's
 * key, and each reconcile starts from the branches as they are now. Writes are server-side
 * applies of deterministic names, so a restart midway never makes duplicates.
 *
 * Conditions: `SourceAvailable` (could the branches be listed) and `Ready` (the Environments
 * match the branches). When Git is unreachable, nothing is created, changed or deleted.
 *
 * @module
 */
import { setCondition } from '../../api/conditions.ts';
import { CONDITIONS, FIELD_MANAGER, LABELS, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { Environment, Project, ProjectStatus } from '../../api/types.gen.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import { type GitSource, parseTrailers, type Steering } from '../../source/git/index.ts';
import { remoteOf } from '../remote.ts';
import { desiredEnvironments } from './desired.ts';

export interface ProjectControllerDeps {
  kube: Kube;
  git: GitSource;
  clock: Clock;
  random?: () => number;
}

export function projectReconciler(deps: ProjectControllerDeps): Reconciler {
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const project = await deps.kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name });
    if (!project) return {};
    const now = new Date(deps.clock.now()).toISOString();
    const generation = project.metadata.generation;
    const status: ProjectStatus = { ...project.status, observedGeneration: generation };
    const mark = (type: string, s: 'True' | 'False', reason: string, message: string): void => {
      status.conditions = setCondition(status.conditions, { type, status: s, reason, message }, now, generation);
    };
    const intervalMs = (project.spec.pollIntervalSeconds ?? 60) * 1000;
    const jittered = Math.round(intervalMs * (0.9 + (deps.random ?? Math.random)() * 0.2));

    try {
      const remote = await remoteOf(deps.kube, project);
      let branches: Map<string, string>;
      try {
        branches = await deps.git.listBranches(remote);
      } catch (err) {
        mark(CONDITIONS.sourceAvailable, 'False', REASONS.gitUnavailable, messageOf(err));
        mark(CONDITIONS.ready, 'False', REASONS.gitUnavailable, 'The branches could not be listed; existing Environments are left as they are');
        throw new ReconcileError(REASONS.gitUnavailable, messageOf(err), 'retry', { cause: err });
      }

      const existing = (
        await deps.kube.list<Environment>(API_VERSION, 'Environment', { namespace, labelSelector: `${LABELS.project}=${name}` })
      ).items;
      const input = { project, branches, existing, steering: new Map<string, Steering>() };
      // Attribution comes from the head commit of each branch that is new or moved.
      for (const env of desiredEnvironments(input).apply) {
        const current = existing.find((e) => e.metadata.name === env.metadata.name);
        if (current?.spec.revision === env.spec.revision) continue;
        try {
          const commit = await deps.git.readCommit(remote, { branch: env.spec.branch, commit: env.spec.revision as string });
          const steering = parseTrailers(commit.message);
          for (const problem of steering.problems) log.warn({ branch: env.spec.branch, revision: env.spec.revision }, `Ignored a commit trailer: ${problem}`);
          input.steering.set(env.spec.branch, steering);
        } catch (err) {
          log.warn({ branch: env.spec.branch, err: messageOf(err) }, 'Could not read the head commit; creating the Environment without attribution');
        }
      }
      const changes = desiredEnvironments(input);

      for (const env of changes.apply) {
        const current = existing.find((e) => e.metadata.name === env.metadata.name);
        if (current && alreadyApplied(current, env)) continue;
        await deps.kube.apply(env, { fieldManager: FIELD_MANAGER, force: true });
        if (!current) log.info({ environment: env.metadata.name, branch: env.spec.branch, revision: env.spec.revision }, 'Created Environment');
        else if (current.spec.revision !== env.spec.revision) log.info({ environment: env.metadata.name, branch: env.spec.branch, revision: env.spec.revision }, 'Moved Environment to a new revision');
      }
      for (const gone of changes.delete) {
        await deps.kube.delete({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: gone.name }, gone.uid ? { uid: gone.uid } : {});
        log.info({ environment: gone.name }, 'Deleted Environment: its branch is gone');
      }
      for (const s of changes.skipped) log.info({ branch: s.branch, reason: s.reason }, s.message);

      status.lastSyncTime = now;
      status.branchCount = changes.selected;
      status.environmentCount = existing.length + changes.apply.filter((e) => !existing.some((x) => x.metadata.name === e.metadata.name)).length - changes.delete.length;
      mark(CONDITIONS.sourceAvailable, 'True', REASONS.synced, `Listed ${branches.size} branches`);
      const refused = changes.skipped.length ? `; ${changes.skipped.map((s) => `${s.branch}: ${s.message}`).join('; ')}` : '';
      mark(CONDITIONS.ready, 'True', REASONS.synced, `${status.environmentCount} environments for ${changes.selected} selected branches${refused}`);
      return { requeueAfterMs: jittered };
    } catch (err) {
      // Git being down was already said, with what it means for the Environments.
      if (!(err instanceof ReconcileError && err.reason === REASONS.gitUnavailable)) {
        mark(CONDITIONS.ready, 'False', err instanceof ReconcileError ? err.reason : 'SyncFailed', messageOf(err));
      }
      throw err;
    } finally {
      await writeStatus(deps.kube, project, status);
    }
  };
}

/**
 * True when the live Environment already has every field the controller sets: applying again
 * would change nothing, so a sync of N unchanged branches costs no writes. A field someone
 * removed by hand makes this false, and the next apply restores it.
 */
export function alreadyApplied(live: Environment, desired: Environment): boolean {
  const contains = (have: Record<string, unknown> | undefined, want: Record<string, unknown> | undefined): boolean =>
    Object.entries(want ?? {}).every(([k, v]) => JSON.stringify(have?.[k]) === JSON.stringify(v));
  return (
    contains(live.metadata.labels, desired.metadata.labels) &&
    contains(live.metadata.annotations, desired.metadata.annotations) &&
    contains(live.spec as unknown as Record<string, unknown>, desired.spec as unknown as Record<string, unknown>)
  );
}

/** Writes the status only when it changed: an unchanged poll costs no write. */
async function writeStatus(kube: Kube, project: Project, status: ProjectStatus): Promise<void> {
  const comparable = (s: ProjectStatus | undefined): string => JSON.stringify({ ...s, lastSyncTime: undefined });
  if (comparable(project.status) === comparable(status) && project.status?.lastSyncTime) {
    // Only the sync time moved: record it at most once a minute.
    const last = Date.parse(project.status.lastSyncTime);
    if (!status.lastSyncTime || Date.parse(status.lastSyncTime) - last < 60_000) return;
  }
  await kube.applyStatus(
    { apiVersion: API_VERSION, kind: 'Project', metadata: { name: project.metadata.name, namespace: project.metadata.namespace }, status },
    { fieldManager: FIELD_MANAGER, force: true },
  );
}
