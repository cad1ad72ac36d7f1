/**
 * Turns a validated manifest into what one environment runs: the overrides of its type merged in
 * and `${GIT_COMMIT}`, `${GIT_BRANCH}`, `${ENVIRONMENT}` expanded. Pure.
 *
 * @module
 */
import type { Application, PlatformManifest, Service } from './types.gen.ts';

export type EnvironmentType = 'production' | 'staging' | 'development';

export interface ResolveContext {
  type: EnvironmentType;
  /** Full commit SHA. */
  commit: string;
  branch: string;
  /** The Environment's name. */
  environment: string;
}

/** A manifest for one environment: no `environments` section left, no variables left. */
export type ResolvedManifest = Omit<PlatformManifest, 'environments'> & {
  applications: Record<string, Application>;
  services: Record<string, Service>;
};

export function resolveManifest(manifest: PlatformManifest, ctx: ResolveContext): ResolvedManifest {
  const { environments, ...base } = manifest;
  const override = environments?.[ctx.type];
  const applications = merge(base.applications ?? {}, override?.applications ?? {}) as Record<string, Application>;
  const services = merge(base.services ?? {}, override?.services ?? {}) as Record<string, Service>;
  const vars: Record<string, string> = { GIT_COMMIT: ctx.commit, GIT_BRANCH: ctx.branch, ENVIRONMENT: ctx.environment };
  const expand = (s: string): string => s.replace(/\$\{(GIT_COMMIT|GIT_BRANCH|ENVIRONMENT)\}/g, (_, name: string) => vars[name] as string);

  const expanded = Object.fromEntries(
    Object.entries(applications).map(([name, app]) => [
      name,
      {
        ...app,
        image: expand(app.image),
        ...(app.env ? { env: mapValues(app.env, expand) } : {}),
        ...(app.hooks ? { hooks: mapValues(app.hooks as Record<string, string[]>, (cmd) => cmd.map(expand)) } : {}),
        ...(app.crons ? { crons: mapValues(app.crons, (c) => ({ ...c, command: c.command.map(expand) })) } : {}),
      } satisfies Application,
    ]),
  );
  return { ...base, applications: expanded, services };
}

/** Objects merge key by key; anything else in the override replaces the base value. */
export function merge(base: unknown, override: unknown): unknown {
  if (!isObject(base) || !isObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = merge(base[key], value);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v)]));
}
