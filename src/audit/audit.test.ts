import { describe, expect, it } from 'vitest';
import type { Environment } from '../api/index.ts';
import { auditDays, type AuditEvent, auditKey, environmentEvent, selectEvents } from './index.ts';

const env = (labels: Record<string, string>, annotations: Record<string, string>): Environment => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name: 'shop-login', namespace: 'team', uid: 'u-1', labels, annotations },
  spec: { project: 'shop', branch: 'feature/login', revision: 'c'.repeat(40) },
});
const T = Date.parse('2026-06-01T12:00:00Z');

describe('environmentEvent', () => {
  it('attributes a pushed Environment to its trailers and a kubectl one to the Kubernetes user', () => {
    const pushed = environmentEvent({ env: env({ 'grove.dev/source': 'git' }, { 'grove.dev/agent': 'coder-7', 'grove.dev/on-behalf-of': 'ada@example.com', 'grove.dev/task': 'SHOP-1' }), action: 'create', now: T });
    expect(pushed).toMatchObject({
      time: '2026-06-01T12:00:00.000Z',
      actor: { agent: 'coder-7', onBehalfOf: 'ada@example.com', task: 'SHOP-1' },
      source: 'push',
      action: 'create',
      object: { kind: 'Environment', namespace: 'team', name: 'shop-login', uid: 'u-1' },
      project: 'shop',
      environment: 'shop-login',
      revision: 'c'.repeat(40),
      decision: 'allowed',
      result: 'succeeded',
    });
    expect(environmentEvent({ env: env({}, { 'grove.dev/requested-by': 'ada' }), action: 'create', now: T })).toMatchObject({ actor: { kubernetesUser: 'ada' }, source: 'kubectl' });
  });

  it('gives the same action the same id whenever it is recorded, and another action another', () => {
    const e = env({ 'grove.dev/source': 'git' }, {});
    const once = environmentEvent({ env: e, action: 'expire', now: T, discriminator: 'x' });
    expect(environmentEvent({ env: e, action: 'expire', now: T + 60_000, discriminator: 'x' }).id).toBe(once.id);
    expect(environmentEvent({ env: e, action: 'expire', now: T, discriminator: 'y' }).id).not.toBe(once.id);
    expect(environmentEvent({ env: { ...e, metadata: { ...e.metadata, uid: 'u-2' } }, action: 'expire', now: T, discriminator: 'x' }).id).not.toBe(once.id);
  });
});

describe('selectEvents', () => {
  const event = (id: string, time: string, extra: Partial<AuditEvent> = {}): AuditEvent => ({
    id,
    time,
    actor: { agent: 'coder-7' },
    source: 'push',
    action: 'create',
    object: { kind: 'Environment', namespace: 'team', name: 'shop-a' },
    project: 'shop',
    environment: 'shop-a',
    decision: 'allowed',
    result: 'succeeded',
    ...extra,
  });
  const trail = [
    event('3', '2026-06-01T12:03:00Z', { action: 'expire', source: 'ttl' }),
    event('1', '2026-06-01T12:01:00Z'),
    event('2', '2026-06-01T12:02:00Z', { environment: 'shop-b', actor: { kubernetesUser: 'ada' } }),
    event('1', '2026-06-01T12:05:00Z'), // the same action recorded again after a restart
  ];

  it('keeps each action once, at its first record, oldest first', () => {
    expect(selectEvents(trail, {}).map((e) => [e.id, e.time])).toEqual([
      ['1', '2026-06-01T12:01:00Z'],
      ['2', '2026-06-01T12:02:00Z'],
      ['3', '2026-06-01T12:03:00Z'],
    ]);
  });

  it.each([
    ['environment', { environment: 'shop-b' }, ['2']],
    ['actor (any of agent, on behalf of, user)', { actor: 'ada' }, ['2']],
    ['action', { action: 'expire' as const }, ['3']],
    ['time', { since: Date.parse('2026-06-01T12:01:30Z'), until: Date.parse('2026-06-01T12:02:30Z') }, ['2']],
  ])('filters by %s', (_t, filter, ids) => expect(selectEvents(trail, filter).map((e) => e.id)).toEqual(ids));
});

describe('where the trail is stored', () => {
  it('keys batches by project and day, in time order, unique per writer and sequence', () => {
    expect(auditKey('team', 'shop', '2026-06-01T12:00:01.123Z', 'op-1', 7)).toBe('audit/team/shop/2026-06-01/20260601T120001Z-op-1-000007.jsonl');
  });
  it('lists the days between two times', () => {
    expect(auditDays(Date.parse('2026-05-31T23:00:00Z'), Date.parse('2026-06-02T01:00:00Z'))).toEqual(['2026-05-31', '2026-06-01', '2026-06-02']);
  });
});
