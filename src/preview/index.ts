/**
 * What a push of a branch would make, computed without writing anything: the Environment the
 * Project controller would apply, the objects the planner would give it, its URLs, and the
 * policy that would refuse it. Pure. `grove plan` feeds it from a directory; the API's
 * `planBranch` from the cluster and the Project's repository.
 *
 * Credentials are placeholders: a plan never needs, and so never shows, a real password.
 *
 * @module
 */
import { type Environment, environmentName, type KubeObject, LABELS, type Project, type RouteURL } from '../api/index.ts';
import { desiredEnvironments, environmentFor } from '../planner/index.ts';
import { type EnvironmentType, type PlatformManifest, resolveManifest } from '../manifest/index.ts';
import { planEnvironment, type ServiceCredentials } from '../planner/index.ts';
import { type Denial, manifestDenial } from '../policy/index.ts';
import type { Steering } from '../source/git/index.ts';

export const PLACEHOLDER_PASSWORD = '(generated when applied)';

/** Credentials for each service that say where the real ones come from. */
export function placeholderCredentials(services: readonly string[]): Record<string, ServiceCredentials> {
  return Object.fromEntries(services.map((s) => [s, { username: s, password: PLACEHOLDER_PASSWORD, database: s }]));
}

export interface PreviewInput {
  project: Project;
  branch: string;
  /** The commit planned; the branch's head in `branches` is taken to be this one. */
  revision: string;
  /** The manifest at `revision`, parsed and valid. */
  manifest: PlatformManifest;
  /** Every branch of the repository → its head: the limits count the other branches' Environments. */
  branches: ReadonlyMap<string, string>;
  /** The Project's Environments as they are. */
  existing: readonly Environment[];
  /** Attribution from the commit's trailers (agent branches and per-agent limits depend on it). */
  steering?: Steering;
  /** Plan as this type rather than the one the branch would get. */
  type?: EnvironmentType;
  now: number;
}

/** One planned object: its name, and the object as it would be applied. */
export interface PlannedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  object: KubeObject;
}

/** What a push of the branch would make; also the body of the API's answer to `planBranch`. */
export interface BranchPlan {
  project: string;
  branch: string;
  revision: string;
  environment: {
    name: string;
    /** The project namespace, where the Environment object lives. */
    namespace: string;
    type: EnvironmentType;
    /** The Environment whose data it would clone; absent for production. */
    parent?: string;
    /** The namespace it would run in. */
    targetNamespace: string;
    object: Environment;
  };
  /** Whether a push creates (or moves) it; otherwise `reason` and `message` say why not. */
  admitted: boolean;
  reason?: string;
  message?: string;
  /** Every policy check that would refuse it: the Project controller's and the Environment controller's. */
  denials: Denial[];
  urls: RouteURL[];
  objects: PlannedObject[];
}

export function previewBranch(input: PreviewInput): BranchPlan {
  const { project, branch, revision } = input;
  const projectName = project.metadata.name ?? '';
  const production = project.spec.productionBranch ?? 'main';
  const name = environmentName(projectName, branch);
  const branches = new Map(input.branches).set(branch, revision);
  const changes = desiredEnvironments({ project, branches, existing: input.existing, steering: new Map(input.steering ? [[branch, input.steering]] : []), now: input.now });
  const applied = changes.apply.find((e) => e.spec.branch === branch);
  const skipped = changes.skipped.find((s) => s.branch === branch);
  const current = input.existing.find((e) => e.metadata.name === name);
  const environment = structuredClone(applied ?? environmentFor(projectName, project.metadata.namespace, branch, branch === production, revision, input.steering, current, undefined));
  const type = input.type ?? environment.spec.type ?? 'development';
  environment.spec.type = type;
  if (environment.metadata.labels?.[LABELS.type]) environment.metadata.labels[LABELS.type] = type;

  const manifest = resolveManifest(input.manifest, { type, commit: revision, branch, environment: name });
  const plan = planEnvironment({ environment, project, manifest, revision, credentials: placeholderCredentials(Object.keys(manifest.services)), workloadsAvailable: true });
  const denials = [...(skipped?.rule ? [{ rule: skipped.rule, message: skipped.message.replace(`${skipped.rule}: `, '') }] : []), ...[manifestDenial(project, type, manifest)].filter((d): d is Denial => d !== undefined)];
  const refusal = applied ? undefined : (skipped ?? { reason: 'NotSelected', message: `branch ${branch} matches none of branches.include or matches branches.exclude of project ${projectName}: a push makes no Environment for it` });
  const parent = type === 'production' ? undefined : (environment.spec.parent ?? productionOf(projectName, production, input.existing));
  return {
    project: projectName,
    branch,
    revision,
    environment: { name, namespace: project.metadata.namespace ?? '', type, ...(parent ? { parent } : {}), targetNamespace: plan.namespace, object: environment },
    admitted: !refusal,
    ...(refusal ? { reason: refusal.reason, message: refusal.message } : {}),
    denials,
    urls: plan.urls,
    objects: plan.objects.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name ?? '', ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), object: o })),
  };
}

/** The production Environment of the Project, as the Environment controller finds it: by spec, else by the production branch's name. */
function productionOf(project: string, productionBranch: string, existing: readonly Environment[]): string {
  const byBranch = environmentName(project, productionBranch);
  if (existing.some((e) => e.metadata.name === byBranch && e.spec.type === 'production')) return byBranch;
  return existing.find((e) => e.spec.type === 'production' && e.spec.project === project && !e.metadata.deletionTimestamp)?.metadata.name ?? byBranch;
}
