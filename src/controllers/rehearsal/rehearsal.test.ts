import { describe, expect, it } from 'vitest';
import type { Rehearsal } from '../../api/index.ts';
import { rehearsalEnvironment, resultMessage, schemaTargets } from './index.ts';

const REV = 'c'.repeat(40);
const rehearsal: Rehearsal = {
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Rehearsal',
  metadata: { name: 'shop-rehearse-cccccccccccc', namespace: 'team', uid: 'r-1', annotations: { 'grove.dev/agent': 'coder-7', 'grove.dev/requested-by': 'system:serviceaccount:team:coder', other: 'x' } },
  spec: { project: 'shop', branch: 'agent/loyalty' },
};

describe('rehearsalEnvironment', () => {
  it('is a throw-away development copy of the parent at the revision, its deploy hook held, owned by the Rehearsal', () => {
    const env = rehearsalEnvironment(rehearsal, REV, 'shop-main');
    expect(env.spec).toEqual({ project: 'shop', branch: 'agent/loyalty', revision: REV, parent: 'shop-main', type: 'development', clone: 'snapshot', ttlSeconds: 3600, sleepAfterSeconds: 0, suspendDeployHook: true });
    expect(env.metadata.labels).toMatchObject({ 'grove.dev/project': 'shop', 'grove.dev/rehearsal': rehearsal.metadata.name });
    // Not the Project controller's: no source label, so no branch sync ever moves or deletes it.
    expect(env.metadata.labels?.['grove.dev/source']).toBeUndefined();
    expect(env.metadata.annotations).toEqual({ 'grove.dev/branch': 'agent/loyalty', 'grove.dev/skip-final-backup': 'true', 'grove.dev/agent': 'coder-7', 'grove.dev/requested-by': 'system:serviceaccount:team:coder' });
    expect(env.metadata.ownerReferences).toEqual([{ apiVersion: 'grove.dev/v1alpha1', kind: 'Rehearsal', name: rehearsal.metadata.name, uid: 'r-1', controller: true }]);
  });
});

describe('resultMessage and schemaTargets', () => {
  it('says the outcome, the time and the schema change in one line', () => {
    expect(resultMessage({ succeeded: true, durationSeconds: 3.21, schema: [{ service: 'db', changed: true, added: 2, removed: 1 }] })).toBe('The deploy hook succeeded in 3.2s; db: +2 −1 lines');
    expect(resultMessage({ succeeded: false, message: 'The deploy hook failed: boom', durationSeconds: 1, schema: [{ service: 'db', changed: false }] })).toBe('The deploy hook failed: boom in 1.0s; no schema change');
  });

  it('compares the databases whose schema a dump tool reads', () => {
    expect(schemaTargets([{ name: 'db', kind: 'postgresql' }, { name: 'legacy', kind: 'mariadb' }, { name: 'cache', kind: 'redis' }, { name: 'web-uploads', kind: 'files' }]).map((t) => t.name)).toEqual(['db', 'legacy']);
  });
});
