/**
 * The Environments a Project should have, from its branches: a pure function from (Project,
 * branch heads, existing Environments, commit attribution) to the changes to make. No I/O, no
 * clock; the controller applies what it returns.
 *
 * Rules, in order:
 * - the production branch always has an Environment of type production, never a parent;
 * - other branches need to match `branches.include` (all when empty) and no `branches.exclude`;
 * - names are deterministic (`environmentName`); two branches that map to one name keep the
 *   Environment of the one that had it first, and the other is refused, never overwritten;
 * - `limits.maxEnvironments` admits existing Environments first, then new branches by name;
 * - Environments whose branch is gone are deleted, except production and protected ones, which
 *   need the `grove.dev/confirm-delete` annotation equal to their name;
 * - only Environments this controller made (`grove.dev/source: git`) are updated or deleted.
 *
 * @module
 */
import { ANNOTATIONS, LABELS, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import { environmentName } from '../../api/names.ts';
import type { Environment, Project } from '../../api/types.gen.ts';
import type { Steering } from '../../source/git/index.ts';
import { matchesAny } from '../../util/index.ts';

export interface DesiredInput {
  project: Project;
  /** Branch → head commit. */
  branches: ReadonlyMap<string, string>;
  /** The Project's Environments as they are in the cluster. */
  existing: readonly Environment[];
  /** Attribution and steering from the head commit of branches being created or updated. */
  steering: ReadonlyMap<string, Steering>;
}

export interface Skipped {
  branch: string;
  reason: string;
  message: string;
}

export interface DesiredChanges {
  /** Environments to create or update, as the controller wants them (for server-side apply). */
  apply: Environment[];
  /** Environments to delete (by name). */
  delete: Array<{ name: string; uid?: string }>;
  /** Branches left without an Environment, and Environments kept though their branch is gone. */
  skipped: Skipped[];
  /** Branches selected by the include/exclude rules. */
  selected: number;
}

export function desiredEnvironments(input: DesiredInput): DesiredChanges {
  const { project, branches, existing, steering } = input;
  const spec = project.spec;
  const production = spec.productionBranch ?? 'main';
  const include = spec.branches?.include ?? [];
  const exclude = spec.branches?.exclude ?? [];
  const max = spec.limits?.maxEnvironments ?? Number.POSITIVE_INFINITY;
  const projectName = project.metadata.name ?? '';
  const namespace = project.metadata.namespace;

  const selected = [...branches.keys()]
    .filter((b) => b === production || ((include.length === 0 || matchesAny(b, include)) && !matchesAny(b, exclude)))
    .sort((a, b) => (a === production ? -1 : b === production ? 1 : a < b ? -1 : a > b ? 1 : 0));

  const byName = new Map(existing.map((e) => [e.metadata.name ?? '', e]));
  const skipped: Skipped[] = [];
  const apply: Environment[] = [];
  const keep = new Set<string>();

  // Existing Environments are admitted before new ones, so a limit never evicts a running one.
  const ordered = [...selected.filter((b) => byName.has(environmentName(projectName, b))), ...selected.filter((b) => !byName.has(environmentName(projectName, b)))];
  const admittedNames = new Set<string>();
  for (const branch of ordered) {
    const name = environmentName(projectName, branch);
    const current = byName.get(name);
    if (current && current.spec.branch !== branch) {
      skipped.push({ branch, reason: REASONS.nameCollision, message: `branch ${branch} maps to Environment ${name}, which belongs to branch ${current.spec.branch}` });
      continue;
    }
    if (admittedNames.has(name)) {
      skipped.push({ branch, reason: REASONS.nameCollision, message: `branch ${branch} maps to Environment ${name}, already used by another branch` });
      continue;
    }
    if (current && current.metadata.labels?.[LABELS.source] !== 'git') {
      keep.add(name); // made by hand: not ours to change
      admittedNames.add(name);
      continue;
    }
    if (!current && admittedNames.size >= max && branch !== production) {
      skipped.push({ branch, reason: REASONS.environmentLimitReached, message: `project ${projectName} allows ${max} environments` });
      continue;
    }
    admittedNames.add(name);
    keep.add(name);
    apply.push(environmentFor(projectName, namespace, branch, branch === production, branches.get(branch) as string, steering.get(branch), current));
  }

  const deletions: Array<{ name: string; uid?: string }> = [];
  for (const env of existing) {
    const name = env.metadata.name ?? '';
    if (keep.has(name) || env.metadata.labels?.[LABELS.source] !== 'git' || env.metadata.deletionTimestamp) continue;
    const guarded = env.spec.type === 'production' || env.spec.protected === true;
    if (guarded && env.metadata.annotations?.[ANNOTATIONS.confirmDelete] !== name) {
      skipped.push({
        branch: env.spec.branch,
        reason: 'DeletionNeedsConfirmation',
        message: `branch ${env.spec.branch} is gone, but Environment ${name} is ${env.spec.type === 'production' ? 'production' : 'protected'}; annotate it ${ANNOTATIONS.confirmDelete}=${name} to delete it`,
      });
      continue;
    }
    deletions.push({ name, ...(env.metadata.uid ? { uid: env.metadata.uid } : {}) });
  }

  return { apply, delete: deletions, skipped, selected: selected.length };
}

function environmentFor(
  project: string,
  namespace: string | undefined,
  branch: string,
  production: boolean,
  revision: string,
  steering: Steering | undefined,
  current: Environment | undefined,
): Environment {
  const name = environmentName(project, branch);
  const annotations: Record<string, string> = { [ANNOTATIONS.branch]: branch };
  if (steering?.agent) annotations[ANNOTATIONS.agent] = steering.agent;
  if (steering?.onBehalfOf) annotations[ANNOTATIONS.onBehalfOf] = steering.onBehalfOf;
  if (steering?.task) annotations[ANNOTATIONS.task] = steering.task;
  // Steering from trailers applies when the Environment is created; later pushes only move the
  // revision, so a stray trailer cannot re-parent or re-time a running Environment.
  const fromTrailers = current ? {} : { ...(steering?.ttlSeconds !== undefined ? { ttlSeconds: steering.ttlSeconds } : {}), ...(steering?.parent && !production ? { parent: steering.parent } : {}) };
  const type = production ? 'production' : (current?.spec.type ?? 'development');
  const kept = current ? { ...(current.spec.ttlSeconds !== undefined ? { ttlSeconds: current.spec.ttlSeconds } : {}), ...(current.spec.parent ? { parent: current.spec.parent } : {}) } : {};
  return {
    apiVersion: API_VERSION,
    kind: 'Environment',
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      labels: {
        [LABELS.project]: project,
        [LABELS.environment]: name,
        [LABELS.type]: type,
        [LABELS.source]: 'git',
        [LABELS.managedBy]: 'grove',
      },
      annotations,
    },
    spec: {
      project,
      branch,
      revision,
      type,
      ...kept,
      ...fromTrailers,
    },
  };
}
