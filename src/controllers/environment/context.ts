/**
 * What the steps of an Environment reconcile share: the controller's dependencies, and the state
 * one reconcile builds up as its steps run (the project, the revision, the manifest, the plan).
 * Each step reads what earlier steps set; `given` says so, and fails loudly if the order is wrong.
 *
 * @module
 */
import type { Environment, EnvironmentStatus, Project } from '../../api/index.ts';
import type { AppliedRecord, ApplyOutcome } from '../../applier/index.ts';
import type { AuditSink } from '../../audit/index.ts';
import type { Movers } from '../../data/index.ts';
import type { EventRecorder } from '../../events/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { LifecycleDecision } from '../../lifecycle/index.ts';
import type { ResolvedManifest } from '../../manifest/index.ts';
import type { NamespaceAccess, Plan, PlanInput } from '../../planner/index.ts';
import type { Lockdown } from '../../policy/index.ts';
import type { Clock, ObjectCache, ReconcileStep } from '../../runtime/index.ts';
import type { GitRemote, GitSource } from '../../source/git/index.ts';
import type { Read } from '../shared.ts';
import type { DataStepResult } from './data.ts';

export interface EnvironmentControllerDeps {
  kube: Kube;
  git: GitSource;
  clock: Clock;
  events: EventRecorder;
  /** How soon to look again while workloads roll out (events usually come first). */
  rolloutPollMs?: number;
  /** How often a Ready Environment is checked for drift anyway, and every object applied again. */
  resyncMs?: number;
  /** The operator's informers; without them every read goes to the API server and every object is applied. */
  cache?: ObjectCache;
  /** Grove's image and namespace, where restore Jobs run. */
  movers: Movers;
  audit?: AuditSink;
  /** The operator's RoleBinding in each Environment's namespace, when its rights come from one. */
  access?: NamespaceAccess;
  /** The cluster's pod, Service and node networks, kept out of reach of internet egress. */
  internalNetworks?: readonly string[];
  /** The operator-wide kill switch, as last seen. */
  lockdown?: () => Lockdown | undefined;
}

/** The dependencies with their defaults filled in, and the controller's memory across reconciles. */
export interface StepDeps extends EnvironmentControllerDeps {
  read: Read;
  audit: AuditSink;
  resyncMs: number;
  rolloutPollMs: number;
  /** What was applied to each child object (the applier skips what is unchanged). */
  records: Map<string, AppliedRecord>;
  /** When each Environment last had every object applied, by key. */
  forcedAt: Map<string, number>;
}

/** One reconcile's findings, in the order the steps make them. */
export interface EnvironmentWork {
  /** The Environment's own namespace. */
  target: string;
  project?: Project;
  remote?: GitRemote;
  revision?: string;
  manifestPath?: string;
  /** Why the manifest at the revision cannot be used. */
  invalid?: { reason: string; message: string };
  /** The manifest at the revision, resolved for this Environment's type, when valid. */
  manifest?: ResolvedManifest;
  /** The manifest's own `lifecycle` (before resolving), when valid. */
  manifestLifecycle?: { ttl?: string; sleepAfter?: string };
  life?: LifecycleDecision;
  namespaceExists?: boolean;
  /** Everything the plan needs but the data stage. */
  planInput?: PlanInput;
  data?: DataStepResult;
  plan?: Plan;
  applied?: ApplyOutcome;
}

export type EnvironmentStep = ReconcileStep<Environment, EnvironmentStatus, EnvironmentWork>;

/** The work with `keys` set by earlier steps; a step listed before the one that sets them is a bug. */
export function given<K extends keyof EnvironmentWork>(work: EnvironmentWork, ...keys: K[]): EnvironmentWork & Required<Pick<EnvironmentWork, K>> {
  for (const key of keys) if (work[key] === undefined) throw new Error(`an Environment step ran before ${String(key)} was found`);
  return work as EnvironmentWork & Required<Pick<EnvironmentWork, K>>;
}
