// Pods on tier D's real node, for the tests: run one to completion and read what it printed, try
// a TCP connection from inside a namespace as any workload there could, and call kubectl for what
// the API client does not do (logs, exec). Every pod passes the `restricted` Pod Security
// profile, so it may run in an Environment's namespace like the agent's own would.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { KubeObject } from '../../src/api/index.ts';
import { cluster, kube } from './helpers.ts';

const exec = promisify(execFile);

export type Pod = KubeObject & {
  spec: Record<string, unknown> & { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: Array<{ name: string; ready: boolean; restartCount: number; state?: { terminated?: { exitCode: number; reason?: string } } }>;
  };
};

/** A locally built image of the node, by name (`grove`, `postgres`, `toolbox`, …). */
export function image(name: string): string {
  const ref = cluster().images?.[name];
  if (!ref) throw new Error(`the local cluster has no image ${name}; tier D builds ${Object.keys(cluster().images ?? {}).join(', ')}`);
  return ref;
}

export async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await exec(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** A container that passes the `restricted` profile. */
export function restrictedContainer(name: string, imageRef: string, command: string[]): Record<string, unknown> {
  return {
    name,
    image: imageRef,
    command,
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
  };
}

export function restrictedPod(namespace: string, name: string, containers: Array<Record<string, unknown>>, labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers,
    },
  };
}

export interface Finished {
  exitCode: number;
  logs: string;
  pod: Pod;
}

/** Creates the pod, waits until its container has terminated, and returns its exit code and output. */
export async function runToCompletion(pod: Pod, timeoutMs = 120_000): Promise<Finished> {
  await kube().create(pod);
  const ref = { apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata.namespace as string, name: pod.metadata.name as string };
  let last: Pod | undefined;
  await expect
    .poll(
      async () => {
        last = await kube().get<Pod>(ref);
        return last?.status?.phase;
      },
      { timeout: timeoutMs, interval: 250, message: `pod ${ref.namespace}/${ref.name} to finish` },
    )
    .toMatch(/^(Succeeded|Failed)$/);
  const logs = await kube().podLog(ref.namespace, ref.name).catch((err: unknown) => `(no logs: ${(err as Error).message})`);
  const exitCode = last?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ?? -1;
  return { exitCode, logs, pod: last! };
}

export interface Target {
  host: string;
  port: number;
}

/**
 * Which of `targets` a pod in `namespace` (with `labels`, for policies that select on them) can
 * open a TCP connection to, as any workload there could. The pod first waits until it reaches
 * `anchor`, something it must reach: a new pod's traffic is refused until the network policy
 * enforcer has learnt its address, and only after that does a refusal mean a policy's. Then each
 * target gets one attempt of a few seconds; a timeout, a reset and "no route" all count as
 * refused, as for any client.
 */
export async function reachFrom(namespace: string, anchor: Target, targets: readonly Target[], labels: Record<string, string> = {}): Promise<Record<string, 'connected' | 'refused'>> {
  const name = `probe-${randomBytes(3).toString('hex')}`;
  // Busybox's nc has no -z; `-e true` hangs up as soon as the connection is open.
  const attempt = (t: Target) => `nc -w 3 ${t.host} ${t.port} -e true 2>/dev/null`;
  const script = [
    `i=0; until ${attempt(anchor)}; do i=$((i+1)); [ $i -ge 60 ] && { echo "anchor ${anchor.host}:${anchor.port} unreachable"; exit 2; }; sleep 0.5; done`,
    ...targets.map((t) => `if ${attempt(t)}; then echo "${t.host}:${t.port} connected"; else echo "${t.host}:${t.port} refused"; fi`),
  ].join('\n');
  const done = await runToCompletion(restrictedPod(namespace, name, [restrictedContainer('probe', image('toolbox'), ['sh', '-c', script])], labels));
  await kube().delete({ apiVersion: 'v1', kind: 'Pod', namespace, name });
  if (done.exitCode !== 0) throw new Error(`the probe in ${namespace} failed (exit ${done.exitCode}): ${done.logs}`);
  return Object.fromEntries(done.logs.trim().split('\n').map((line) => line.split(' ') as [string, 'connected' | 'refused']));
}

/** Waits until a pod matching the selector runs with every container ready, on the real node. */
export async function readyPod(namespace: string, labelSelector: string, timeoutMs = 180_000): Promise<Pod> {
  let found: Pod | undefined;
  await expect
    .poll(
      async () => {
        const pods = (await kube().list<Pod>('v1', 'Pod', { namespace, labelSelector })).items;
        found = pods.find((p) => p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).length > 0 && p.status.containerStatuses!.every((c) => c.ready));
        return found !== undefined;
      },
      { timeout: timeoutMs, interval: 500, message: `a ready pod ${labelSelector} in ${namespace}` },
    )
    .toBe(true);
  return found!;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Labels of the pod that sends it, for policies that select on them. */
  labels?: Record<string, string>;
}

/**
 * One HTTP request (a GET unless told) from a pod in `namespace`, as a neighbour of the
 * application would send it (the toolbox has no HTTP client that works in a pod, so the request
 * goes through nc, its bytes passed in an environment variable so nothing needs quoting). nc
 * half-closes the connection when its input ends, and Node's HTTP server drops a request whose
 * client did that before it answered, so the input stays open until nc is done.
 */
export async function httpFrom(namespace: string, host: string, port: number, path: string, request: HttpRequest = {}): Promise<HttpAnswer> {
  const name = `http-${randomBytes(3).toString('hex')}`;
  const body = request.body ?? '';
  const headers = { Host: host, Accept: 'application/json', ...(body ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...request.headers };
  const raw = [`${request.method ?? 'GET'} ${path} HTTP/1.0`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', body].join('\r\n');
  const container = { ...restrictedContainer('http', image('toolbox'), ['sh', '-c', `{ printf '%s' "$REQUEST"; sleep 1; while pidof nc >/dev/null; do sleep 0.2; done; } | nc -w 10 ${host} ${port}`]), env: [{ name: 'REQUEST', value: raw }] };
  const done = await runToCompletion(restrictedPod(namespace, name, [container], request.labels));
  await kube().delete({ apiVersion: 'v1', kind: 'Pod', namespace, name });
  const match = /^HTTP\/1\.[01] (\d{3})[^\n]*\n([\s\S]*?)\r?\n\r?\n([\s\S]*)$/.exec(done.logs);
  // No HTTP answer (refused, timed out, cut short): status 0, and what the pod printed.
  if (done.exitCode !== 0 || !match) return { status: 0, body: `exit code ${done.exitCode}: ${done.logs}` };
  return { status: Number(match[1]), body: match[3] ?? '' };
}

/**
 * Frees the node for the next test file (one node of two cores holds few Environments): the
 * namespaces of every Environment of the project namespace go. Called once the file's operator
 * is stopped, so nothing makes them again; their Environment objects are left as they are.
 */
export async function releaseEnvironments(projectNamespace: string): Promise<void> {
  const namespaces = (await kube().list<KubeObject>('v1', 'Namespace', { labelSelector: `grove.dev/environment-namespace=${projectNamespace}` })).items;
  for (const ns of namespaces) await kube().delete({ apiVersion: 'v1', kind: 'Namespace', name: ns.metadata.name as string });
  // A plain loop: this runs in afterAll hooks, where expect.poll cannot.
  const names = new Set(namespaces.map((n) => n.metadata.name));
  for (let i = 0; i < 120; i++) {
    const left = (await kube().list<Pod>('v1', 'Pod', {})).items.filter((p) => names.has(p.metadata.namespace));
    if (left.length === 0) return;
    await sleep(1000);
  }
  throw new Error(`the pods of ${[...names].join(', ')} were still there after 2 minutes`);
}
