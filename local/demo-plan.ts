/**
 * What `npm run demo` sets up, decided without I/O: the example app as this host can serve
 * it, and the objects of the demo's project namespace. `demo.ts` carries it out.
 *
 * @module
 */
import { parseDocument } from 'yaml';
import type { KubeObject, ProjectSpec } from '../src/api/index.ts';
import { parseServiceType } from '../src/catalog/index.ts';

export const DEMO_NAMESPACE = 'demo';
export const DEMO_PROJECT = 'shop';
export const DEMO_BRANCH = 'demo/welcome';
export const DEMO_BUCKET = 'grove-demo';
const API = 'grove.dev/v1alpha1';

export interface DemoManifest {
  text: string;
  /** Services left out, each with the reason. */
  leftOut: Array<{ service: string; reason: string }>;
}

/**
 * The example's manifest without the services whose data this host cannot back up (and the
 * relationships to them): a Backup of an Environment covers every service, so one that cannot be
 * read would fail every Backup and every clone. Comments and order are kept.
 */
export function demoManifest(text: string, servable: (kind: string) => boolean): DemoManifest {
  const doc = parseDocument(text);
  const services = (doc.toJS() as { services?: Record<string, { type: string }> }).services ?? {};
  const leftOut = Object.entries(services)
    .filter(([, s]) => !servable(parseServiceType(s.type).kind))
    .map(([service, s]) => ({ service, reason: `${s.type} cannot be backed up on this host (the local mover runner serves files and PostgreSQL)` }));
  const gone = new Set(leftOut.map((l) => l.service));
  if (gone.size === 0) return { text, leftOut };
  for (const service of gone) doc.deleteIn(['services', service]);
  const apps = (doc.toJS() as { applications?: Record<string, { relationships?: Record<string, string> }> }).applications ?? {};
  for (const [app, spec] of Object.entries(apps)) {
    for (const [relation, target] of Object.entries(spec.relationships ?? {})) if (gone.has(target)) doc.deleteIn(['applications', app, 'relationships', relation]);
  }
  const header = `# The demo's copy of examples/shop: ${[...gone].sort().join(', ')} left out, since this host cannot back ${gone.size === 1 ? 'it' : 'them'} up.\n`;
  return { text: header + doc.toString(), leftOut };
}

/** A commit on the demo's branch: a change a developer would push. */
export function branchFiles(now: Date): Record<string, string> {
  return { 'WELCOME.md': `# Welcome\n\nA change on ${DEMO_BRANCH}, pushed by npm run demo at ${now.toISOString()}.\n` };
}

export interface DemoObjectsInput {
  namespace: string;
  repoUrl: string;
  storageClass: string;
  minio: { url: string };
  /** Tier D: the node's local images of the catalog's servers. */
  serviceImages?: Record<string, string>;
  /** The repository is on the local Gitea, to which Grove reports (its token in the Secret `gitea`). */
  gitea?: boolean;
}

/**
 * The Project and its BackupStore. Clones come from backups, which show the whole path to MinIO
 * and back; at tier C they are also the only way, since the databases live in a host PostgreSQL
 * server, which a VolumeSnapshot of the claim would not copy.
 */
export function demoObjects(input: DemoObjectsInput): Array<KubeObject & Record<string, unknown>> {
  const project: ProjectSpec = {
    repo: { url: input.repoUrl },
    productionBranch: 'main',
    // Webhooks are for the demo's own push; a push of the user's own is found by polling.
    webhook: { secretRef: { name: 'hook' } },
    pollIntervalSeconds: 10,
    backupStoreRef: { name: 'store' },
    storageClassName: input.storageClass,
    defaults: { clone: 'backup' },
    ...(input.serviceImages ? { serviceImages: input.serviceImages } : {}),
    ...(input.gitea ? { gitHost: { type: 'gitea' as const, secretRef: { name: 'gitea' } } } : {}),
  };
  return [
    {
      apiVersion: API,
      kind: 'BackupStore',
      metadata: { name: 'store', namespace: input.namespace },
      spec: { s3: { endpoint: input.minio.url, bucket: DEMO_BUCKET, prefix: 'grove' }, credentialsSecretRef: { name: 's3' }, resticPasswordSecretRef: { name: 'restic' } },
    },
    { apiVersion: API, kind: 'Project', metadata: { name: DEMO_PROJECT, namespace: input.namespace }, spec: project },
  ];
}
