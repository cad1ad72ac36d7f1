import { describe, expect, it } from 'vitest';
import type { Environment, EnvironmentSpec, Project, ProjectSpec } from '../api/index.ts';
import { decideLifecycle, type LifecycleInput, lastActivity } from './index.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const H = 3_600_000;
const env = (spec: Partial<EnvironmentSpec> = {}, extra: { activity?: string; renew?: string } = {}): Environment => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name: 'shop-x', namespace: 'team', creationTimestamp: new Date(T0).toISOString(), ...(extra.renew ? { annotations: { 'grove.dev/renew': extra.renew } } : {}) },
  spec: { project: 'shop', branch: 'x', ...spec },
  ...(extra.activity ? { status: { lastActivityTime: extra.activity } } : {}),
});
const project = (spec: Partial<ProjectSpec> = {}): Project => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'https://git.example.com/shop.git' }, ...spec } });
const decide = (over: Partial<LifecycleInput>) => decideLifecycle({ environment: env(), project: project(), now: T0, warningLeadSeconds: 3600, ...over });
const iso = (ms: number) => new Date(ms).toISOString();

describe('decideLifecycle: expiry', () => {
  it.each([
    ['no TTL anywhere: never expires', {}, T0 + 1000 * H, { expired: false, expiring: false, expiresAt: undefined }],
    ['the Environment\'s own TTL', { environment: env({ ttlSeconds: 7200 }) }, T0 + 0.5 * H, { expiresAt: T0 + 2 * H, expiring: false, expired: false }],
    ['warned within the lead time', { environment: env({ ttlSeconds: 7200 }) }, T0 + 1.5 * H, { expiring: true, expired: false }],
    ['expired at exactly the TTL', { environment: env({ ttlSeconds: 7200 }) }, T0 + 2 * H, { expiring: false, expired: true }],
    ['the manifest\'s lifecycle.ttl when the Environment sets none', { lifecycle: { ttl: '72h' } }, T0, { ttlSeconds: 72 * 3600, expiresAt: T0 + 72 * H }],
    ['the Environment\'s TTL over the manifest\'s', { environment: env({ ttlSeconds: 3600 }), lifecycle: { ttl: '72h' } }, T0, { ttlSeconds: 3600 }],
    ['the Project default last', { project: project({ defaults: { ttlSeconds: 600 } }) }, T0, { ttlSeconds: 600, expiresAt: T0 + 600_000 }],
    ['ttlSeconds: 0 turns a default off', { environment: env({ ttlSeconds: 0 }), project: project({ defaults: { ttlSeconds: 600 } }) }, T0 + 1000 * H, { expiresAt: undefined, expired: false }],
    ['production never expires', { environment: env({ type: 'production', ttlSeconds: 60 }) }, T0 + 1000 * H, { expired: false, exempt: 'a production environment neither expires nor sleeps when idle' }],
    ['protected never expires', { environment: env({ protected: true, ttlSeconds: 60 }) }, T0 + 1000 * H, { expired: false, exempt: 'a protected environment neither expires nor sleeps when idle' }],
    ['unless configured to', { environment: env({ protected: true, ttlSeconds: 60 }), protectedMay: { expire: true } }, T0 + H, { expired: true }],
  ])('%s', (_why, over, now, expected) => {
    const decision = decide({ ...over, now });
    const [absent, present] = [Object.entries(expected).filter(([, v]) => v === undefined), Object.entries(expected).filter(([, v]) => v !== undefined)];
    expect(decision).toMatchObject(Object.fromEntries(present));
    for (const [key] of absent) expect(decision, key).not.toHaveProperty(key);
  });

  it('counts from the latest activity: a push, or a renewal', () => {
    const pushed = env({ ttlSeconds: 7200 }, { activity: iso(T0 + 5 * H) });
    expect(decide({ environment: pushed, now: T0 + 6 * H })).toMatchObject({ expiresAt: T0 + 7 * H, expired: false });
    const renewed = env({ ttlSeconds: 7200 }, { activity: iso(T0 + 5 * H), renew: iso(T0 + 6.5 * H) });
    expect(decide({ environment: renewed, now: T0 + 7 * H })).toMatchObject({ expiresAt: T0 + 8.5 * H, expired: false });
  });

  it('never lets a renewal stamped in the future buy more than now', () => {
    const skewed = env({ ttlSeconds: 7200 }, { renew: iso(T0 + 1000 * H) });
    expect(lastActivity(skewed, T0 + H)).toBe(T0 + H);
    expect(decide({ environment: skewed, now: T0 + H }).expiresAt).toBe(T0 + 3 * H);
  });

  it('ignores a renewal that is not a time', () => {
    expect(lastActivity(env({}, { renew: 'tomorrow please' }), T0 + H)).toBe(T0);
  });

  it('is the same decision whenever it is asked, and says when it next changes', () => {
    const e = env({ ttlSeconds: 7200, sleepAfterSeconds: 1800 });
    expect(decide({ environment: e, now: T0 + 60_000 })).toEqual(decide({ environment: e, now: T0 + 60_000 }));
    expect(decide({ environment: e, now: T0 }).nextAt).toBe(T0 + 0.5 * H);
    expect(decide({ environment: e, now: T0 + 0.5 * H }).nextAt).toBe(T0 + H);
    expect(decide({ environment: e, now: T0 + 1.5 * H }).nextAt).toBe(T0 + 2 * H);
    expect(decide({ environment: e, now: T0 + 2 * H }).nextAt).toBeUndefined();
  });
});

describe('decideLifecycle: sleep', () => {
  it.each([
    ['awake while active', { environment: env({ sleepAfterSeconds: 1800 }) }, T0 + 0.4 * H, { sleeping: false }],
    ['asleep after sleepAfter without activity', { environment: env({ sleepAfterSeconds: 1800 }) }, T0 + 0.5 * H, { sleeping: true, sleepReason: 'idle' }],
    ['woken by a push', { environment: env({ sleepAfterSeconds: 1800 }, { activity: iso(T0 + 3 * H) }) }, T0 + 3.1 * H, { sleeping: false }],
    ['woken by a renewal', { environment: env({ sleepAfterSeconds: 1800 }, { renew: iso(T0 + 3 * H) }) }, T0 + 3.1 * H, { sleeping: false }],
    ['the manifest\'s lifecycle.sleepAfter', { lifecycle: { sleepAfter: '2h' } }, T0 + 2 * H, { sleeping: true, sleepAfterSeconds: 7200 }],
    ['state: sleeping, whatever the activity', { environment: env({ state: 'sleeping' }, { activity: iso(T0) }) }, T0, { sleeping: true, sleepReason: 'requested' }],
    ['production does not sleep when idle', { environment: env({ type: 'production', sleepAfterSeconds: 60 }) }, T0 + 10 * H, { sleeping: false }],
    ['but sleeps when asked to', { environment: env({ type: 'production', state: 'sleeping' }) }, T0, { sleeping: true, sleepReason: 'requested' }],
    ['protected sleeps when idle if configured to', { environment: env({ protected: true, sleepAfterSeconds: 60 }), protectedMay: { sleep: true } }, T0 + H, { sleeping: true }],
  ])('%s', (_why, over, now, expected) => {
    expect(decide({ ...over, now })).toMatchObject(expected);
  });
});
