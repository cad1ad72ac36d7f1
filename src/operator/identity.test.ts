import { describe, expect, it } from 'vitest';
import { subjectOf } from './identity.ts';

describe('subjectOf', () => {
  it.each([
    ['system:serviceaccount:grove-system:grove', { kind: 'ServiceAccount', namespace: 'grove-system', name: 'grove' }],
    ['system:serviceaccount:team-a:ops.bot', { kind: 'ServiceAccount', namespace: 'team-a', name: 'ops.bot' }],
    ['grove-admin', { kind: 'User', name: 'grove-admin' }],
    ['ada@example.com', { kind: 'User', name: 'ada@example.com' }],
    // Not a ServiceAccount's username: a namespace cannot hold a colon.
    ['system:serviceaccount:a:b:c', { kind: 'User', name: 'system:serviceaccount:a:b:c' }],
  ])('%s', (username, subject) => {
    expect(subjectOf(username)).toEqual(subject);
  });
});
