// Tier D's real node as any workload sees it: the kubelet registers it with its own addresses,
// pods run from the locally built images, resolve names through CoreDNS, reach the API server
// through the `kubernetes` Service, and write volumes of the CSI driver that outlive the pod.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/index.ts';
import { cluster, kube, testNamespace, volumeDir } from '../helpers.ts';
import { image, restrictedContainer, restrictedPod, runToCompletion } from '../pods.ts';

type Node = KubeObject & {
  spec: { podCIDR?: string; taints?: Array<{ key: string; effect: string }> };
  status: { addresses: Array<{ type: string; address: string }>; nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string }; conditions: Array<{ type: string; status: string }> };
};

let ns: string;

beforeAll(async () => {
  ns = await testNamespace('node');
});

describe('the real node', () => {
  it('is Ready with its own address and pod range, running the cluster\'s kubelet on containerd', async () => {
    const node = cluster().node!;
    const live = (await kube().get<Node>({ apiVersion: 'v1', kind: 'Node', name: node.name }))!;
    expect(live.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(live.status.addresses).toContainEqual({ type: 'InternalIP', address: node.network.nodeIP });
    expect(live.spec.podCIDR).toBe(node.network.podCIDR);
    expect(live.status.nodeInfo.kubeletVersion).toBe(cluster().kubernetesVersion);
    expect(live.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    // Nothing else takes pods unasked: kwok nodes, if any, are tainted.
    const nodes = (await kube().list<Node>('v1', 'Node')).items;
    const schedulable = nodes.filter((n) => !(n.spec.taints ?? []).some((t) => t.effect === 'NoSchedule'));
    expect(schedulable.map((n) => n.metadata.name)).toEqual([node.name]);
  });

  it('runs a pod from a local image and keeps what it printed', async () => {
    const done = await runToCompletion(restrictedPod(ns, 'hello', [restrictedContainer('hello', image('toolbox'), ['sh', '-c', 'echo "hello from $(hostname)"; id -u'])]));
    expect(done.exitCode).toBe(0);
    expect(done.logs).toBe('hello from hello\n65532\n');
    expect(done.pod.spec.nodeName).toBe(cluster().node!.name);
  });

  it('resolves cluster names through CoreDNS and reaches the API server through its Service', async () => {
    const script = [
      'nslookup kubernetes.default.svc.cluster.local | grep -A1 "^Name:"',
      'nc -w 3 kubernetes.default.svc.cluster.local 443 -e true && echo api-reachable',
      'nslookup does-not-exist.default.svc.cluster.local >/dev/null 2>&1 || echo unknown-name-refused',
    ].join('; ');
    const done = await runToCompletion(restrictedPod(ns, 'dns', [restrictedContainer('dns', image('toolbox'), ['sh', '-c', script])]));
    expect(done.exitCode, done.logs).toBe(0);
    expect(done.logs).toContain(`Address: ${cluster().node!.network.apiServiceIP}`);
    expect(done.logs).toContain('api-reachable');
    expect(done.logs).toContain('unknown-name-refused');
  });

  it('gives a non-root pod a writable CSI volume, whose data outlives the pod', async () => {
    await kube().create({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } },
    } as KubeObject);
    const withVolume = (name: string, script: string) => {
      const pod = restrictedPod(ns, name, [{ ...restrictedContainer(name, image('toolbox'), ['sh', '-c', script]), volumeMounts: [{ name: 'data', mountPath: '/data' }] }]);
      pod.spec.securityContext = { ...(pod.spec.securityContext as object), fsGroup: 65532 };
      pod.spec.volumes = [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }];
      return pod;
    };
    const write = await runToCompletion(withVolume('writer', 'echo kept > /data/note && ls -ln /data/note'));
    expect(write.exitCode, write.logs).toBe(0);
    expect(write.logs).toMatch(/65532\s+65532/);
    const read = await runToCompletion(withVolume('reader', 'cat /data/note'));
    expect(read.logs).toBe('kept\n');
    // The very file, in the CSI driver's directory for the volume.
    expect(await readFile(join(await volumeDir(ns, 'data'), 'note'), 'utf8')).toBe('kept\n');
  });
});
