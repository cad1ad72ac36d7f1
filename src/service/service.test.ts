import { describe, expect, it } from 'vitest';
import type { Environment, KubeObject, Project } from '../api/index.ts';
import type { AuditEvent } from '../audit/index.ts';
import type { Kube } from '../kube/index.ts';
import { operations, type Requester } from './index.ts';

/** The few Kube calls the operations make, over a map of objects. */
function kubeOf(objects: KubeObject[]): { kube: Kube; created: KubeObject[] } {
  const created: KubeObject[] = [];
  const key = (kind: string, namespace: string | undefined, name: string | undefined) => `${kind}/${namespace}/${name}`;
  const byKey = new Map(objects.map((o) => [key(o.kind, o.metadata.namespace, o.metadata.name), o]));
  const kube = {
    get: async (ref: { kind: string; namespace: string; name: string }) => byKey.get(key(ref.kind, ref.namespace, ref.name)),
    list: async (_apiVersion: string, kind: string) => ({ items: objects.filter((o) => o.kind === kind) }),
    create: async (obj: KubeObject) => {
      created.push(obj);
      return obj;
    },
  };
  return { kube: kube as unknown as Kube, created };
}

const project: Project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team-a' }, spec: { repo: { url: 'http://git.test/shop.git' }, policy: { agentsGroup: 'agents' } } };
const env: Environment = { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name: 'shop-main', namespace: 'team-a', uid: 'u1' }, spec: { project: 'shop', branch: 'main' } };

function service(requester: Requester) {
  const { kube, created } = kubeOf([project, env]);
  const asked: Requester[] = [];
  const events: AuditEvent[] = [];
  const ops = operations({
    kube,
    now: () => Date.parse('2026-12-03T08:00:00Z'),
    audit: { record: async (e) => void events.push(e) },
    requester: async () => {
      asked.push(requester);
      return requester;
    },
    source: 'kubectl',
    fieldManager: 'grove-cli',
  });
  return { ops, asked, created, events };
}

describe('operations', () => {
  it('reads without asking who the requester is', async () => {
    const { ops, asked } = service({ username: 'ada', groups: [] });
    expect((await ops.listEnvironments('team-a')).map((e) => e.metadata.name)).toEqual(['shop-main']);
    expect((await ops.getEnvironment('team-a', 'shop-main')).spec.branch).toBe('main');
    expect(await ops.listBackups('team-a')).toEqual([]);
    await expect(ops.getRestore('team-a', 'nope')).rejects.toThrow('Restore nope does not exist in namespace team-a');
    expect(asked).toEqual([]);
  });

  it('asks once, and names the requester on what it creates and in the audit trail', async () => {
    const { ops, asked, created, events } = service({ username: 'ada', groups: [] });
    await ops.createBackup('team-a', 'shop-main', 'b1');
    await ops.createBackup('team-a', 'shop-main', 'b2');
    expect(asked).toHaveLength(1);
    expect(created.map((o) => o.metadata.annotations?.['grove.dev/requested-by'])).toEqual(['ada', 'ada']);
    expect(events.map((e) => [e.action, e.actor.kubernetesUser])).toEqual([
      ['backup', 'ada'],
      ['backup', 'ada'],
    ]);
  });

  it("refuses production to the Project's agents by the requester's groups", async () => {
    const { ops, created } = service({ username: 'agent-7', groups: ['agents'] });
    await expect(ops.createEnvironment('team-a', 'shop-prod', { project: 'shop', branch: 'main', type: 'production' })).rejects.toThrow('members of agents cannot create or promote a production Environment');
    expect(created).toEqual([]);
  });
});
