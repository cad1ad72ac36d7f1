/**
 * When an Environment expires, warns that it will, and sleeps — decided without I/O from stored
 * timestamps and a given `now`, so a decision survives restarts, is the same on every replica,
 * and is tested as tables.
 *
 * Activity is the latest of: the Environment's creation, `status.lastActivityTime` (pushes and
 * API calls record it) and the `grove.dev/renew` annotation. A renewal stamped in the future
 * (a client clock ahead of the cluster's) counts as now, never later: nobody buys time by skew.
 *
 * @module
 */
import { ANNOTATIONS, type Environment, type Project } from '../api/index.ts';
import { parseDuration } from '../manifest/index.ts';

export interface LifecycleInput {
  environment: Environment;
  project: Project;
  /** The manifest's `lifecycle` block at the Environment's revision. */
  lifecycle?: { ttl?: string; sleepAfter?: string };
  now: number;
  /** How long before expiry `Expiring` is raised. */
  warningLeadSeconds: number;
  /** Whether production and protected Environments may expire or sleep when idle (default: never). */
  protectedMay?: { expire?: boolean; sleep?: boolean };
}

export interface LifecycleDecision {
  /** The moment of the latest activity (ms). */
  lastActivity: number;
  /** 0 when the Environment never expires. */
  ttlSeconds: number;
  sleepAfterSeconds: number;
  expiresAt?: number;
  /** Within the warning lead before `expiresAt`. */
  expiring: boolean;
  /** Past `expiresAt`: the Environment is to be deleted. */
  expired: boolean;
  /** Whether the workloads should be scaled to zero, and why. */
  sleeping: boolean;
  sleepReason?: 'requested' | 'idle';
  /** The next moment at which this decision changes, to look again then. */
  nextAt?: number;
  /** Why an Environment with a TTL or idle sleep does not get it. */
  exempt?: string;
}


/** The merge patch of each lifecycle verb at `now`: what `grove env` and the HTTP API send. */
export function lifecyclePatch(verb: 'renew' | 'sleep' | 'wake', now: Date): Record<string, unknown> {
  const renew = { metadata: { annotations: { [ANNOTATIONS.renew]: now.toISOString() } } };
  if (verb === 'renew') return renew;
  if (verb === 'sleep') return { spec: { state: 'sleeping' } };
  return { ...renew, spec: { state: 'active' } };
}

/** The latest activity: creation, recorded activity, or a renewal (never later than now). */
export function lastActivity(env: Environment, now: number): number {
  const times = [env.metadata.creationTimestamp, env.status?.lastActivityTime].map((t) => Date.parse(t ?? '')).filter((t) => Number.isFinite(t));
  const renewed = Date.parse(env.metadata.annotations?.[ANNOTATIONS.renew] ?? '');
  if (Number.isFinite(renewed)) times.push(Math.min(renewed, now));
  return times.length ? Math.max(...times) : now;
}

export function decideLifecycle(input: LifecycleInput): LifecycleDecision {
  const { environment: env, project, now } = input;
  const seconds = (own: number | undefined, manifest: string | undefined, fallback: number | undefined): number => own ?? (manifest ? parseDuration(manifest) : undefined) ?? fallback ?? 0;
  const ttlSeconds = seconds(env.spec.ttlSeconds, input.lifecycle?.ttl, project.spec.defaults?.ttlSeconds);
  const sleepAfterSeconds = seconds(env.spec.sleepAfterSeconds, input.lifecycle?.sleepAfter, project.spec.defaults?.sleepAfterSeconds);
  const activity = lastActivity(env, now);
  const guarded = (env.spec.type ?? 'development') === 'production' ? 'production' : env.spec.protected ? 'protected' : undefined;
  const mayExpire = !guarded || (input.protectedMay?.expire ?? false);
  const maySleep = !guarded || (input.protectedMay?.sleep ?? false);

  const expiresAt = ttlSeconds > 0 && mayExpire ? activity + ttlSeconds * 1000 : undefined;
  const warnAt = expiresAt === undefined ? undefined : expiresAt - input.warningLeadSeconds * 1000;
  const sleepAt = sleepAfterSeconds > 0 && maySleep ? activity + sleepAfterSeconds * 1000 : undefined;
  const requested = env.spec.state === 'sleeping';
  const idle = sleepAt !== undefined && now >= sleepAt;
  const future = [warnAt, expiresAt, sleepAt].filter((t): t is number => t !== undefined && t > now);
  const exempt = guarded && ((ttlSeconds > 0 && !mayExpire) || (sleepAfterSeconds > 0 && !maySleep)) ? `a ${guarded} environment neither expires nor sleeps when idle` : undefined;
  return {
    lastActivity: activity,
    ttlSeconds,
    sleepAfterSeconds,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    expiring: warnAt !== undefined && expiresAt !== undefined && now >= warnAt && now < expiresAt,
    expired: expiresAt !== undefined && now >= expiresAt,
    sleeping: requested || idle,
    ...(requested ? { sleepReason: 'requested' as const } : idle ? { sleepReason: 'idle' as const } : {}),
    ...(future.length ? { nextAt: Math.min(...future) } : {}),
    ...(exempt ? { exempt } : {}),
  };
}
