/**
 * A BackupStore made usable: its bucket and Secrets resolved into S3 settings, a restic
 * repository location per Project, and a check that proves access by writing and reading back a
 * small object (listing a bucket proves less: a read-only key can list).
 *
 * @module
 */
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { API_VERSION, type BackupStore, type BackupStoreSpec, type Project, REASONS } from '../../api/index.ts';
import type { Kube } from '../../kube/index.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import { DestinationRefused, type Outbound, refusedIn } from '../../outbound/index.ts';
import { readSecret } from '../../secrets/index.ts';
import type { ResticRepository } from '../restic/index.ts';

/** Everything needed to reach a BackupStore; holds secrets, so it is never logged. */
export interface StoreAccess {
  endpoint: string;
  bucket: string;
  /** Without leading or trailing slashes; may be empty. */
  prefix: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  resticPassword: string;
}

/** The Secret values a BackupStore names, by Secret name. */
export type SecretData = (name: string) => Record<string, string> | undefined;

/** Resolves a BackupStore's spec and Secrets; every missing piece is named in the error. */
export function storeAccess(name: string, spec: BackupStoreSpec, secrets: SecretData): StoreAccess {
  const creds = secrets(spec.credentialsSecretRef.name);
  if (!creds) throw new GroveError('NotFound', `BackupStore ${name}: Secret ${spec.credentialsSecretRef.name} (S3 credentials) does not exist`);
  const passwordKey = spec.resticPasswordSecretRef.key ?? 'password';
  const passwordSecret = secrets(spec.resticPasswordSecretRef.name);
  if (!passwordSecret) throw new GroveError('NotFound', `BackupStore ${name}: Secret ${spec.resticPasswordSecretRef.name} (restic password) does not exist`);
  const missing = [
    ...['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].filter((k) => !creds[k]).map((k) => `${spec.credentialsSecretRef.name}.${k}`),
    ...(passwordSecret[passwordKey] ? [] : [`${spec.resticPasswordSecretRef.name}.${passwordKey}`]),
  ];
  if (missing.length) throw new GroveError('InvalidInput', `BackupStore ${name}: missing Secret keys ${missing.join(', ')}`);
  return {
    endpoint: spec.s3.endpoint.replace(/\/+$/, ''),
    bucket: spec.s3.bucket,
    prefix: (spec.s3.prefix ?? '').replace(/^\/+|\/+$/g, ''),
    region: spec.s3.region ?? 'us-east-1',
    forcePathStyle: spec.s3.forcePathStyle ?? true,
    accessKeyId: creds.AWS_ACCESS_KEY_ID as string,
    secretAccessKey: creds.AWS_SECRET_ACCESS_KEY as string,
    resticPassword: passwordSecret[passwordKey] as string,
  };
}

/** Reads a BackupStore's Secrets and resolves its settings; a missing, unconsenting or incomplete Secret is a GroveError naming it. */
export async function loadStoreAccess(kube: Kube, store: BackupStore): Promise<StoreAccess> {
  const namespace = store.metadata.namespace as string;
  const user = { kind: 'BackupStore', name: store.metadata.name as string } as const;
  const secrets = new Map<string, Record<string, string> | undefined>();
  for (const ref of [store.spec.credentialsSecretRef.name, store.spec.resticPasswordSecretRef.name]) {
    if (!secrets.has(ref)) secrets.set(ref, await readSecret(kube, namespace, ref, user));
  }
  return storeAccess(store.metadata.name as string, store.spec, (ref) => secrets.get(ref));
}

/** The BackupStore a Project names, made usable; undefined when it names none. */
export async function projectStoreAccess(kube: Kube, project: Project): Promise<StoreAccess | undefined> {
  const ref = project.spec.backupStoreRef;
  if (!ref) return undefined;
  const namespace = project.metadata.namespace as string;
  const store = await kube.get<BackupStore>({ apiVersion: API_VERSION, kind: 'BackupStore', namespace, name: ref.name });
  if (!store) throw new GroveError('NotFound', `BackupStore ${ref.name} does not exist in namespace ${namespace}`);
  return loadStoreAccess(kube, store);
}

/** The object key of `path` inside the store's prefix. */
export function keyOf(store: StoreAccess, path: string): string {
  return store.prefix ? `${store.prefix}/${path}` : path;
}

/** One restic repository per Project: `<prefix>/restic/<project-namespace>/<project>`. */
export function repositoryOf(store: StoreAccess, projectNamespace: string, project: string): ResticRepository {
  return {
    location: `s3:${store.endpoint}/${store.bucket}/${keyOf(store, `restic/${projectNamespace}/${project}`)}`,
    password: store.resticPassword,
    env: { AWS_ACCESS_KEY_ID: store.accessKeyId, AWS_SECRET_ACCESS_KEY: store.secretAccessKey, AWS_DEFAULT_REGION: store.region },
  };
}

/** `outbound` keeps the client's connections to where the operator may go for a Project. */
export function s3ClientOf(store: StoreAccess, outbound?: Outbound): S3Client {
  return new S3Client({
    ...(outbound ? { requestHandler: outbound.agents } : {}),
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: store.forcePathStyle,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
    // A store that does not answer should fail a check quickly, not hang a reconcile.
    maxAttempts: 2,
  });
}

/** Writes and reads back `<prefix>/.grove/access-check`; throws with the server's reason. */
export async function checkAccess(store: StoreAccess, now: Date, outbound?: Outbound): Promise<void> {
  const s3 = s3ClientOf(store, outbound);
  const key = keyOf(store, '.grove/access-check');
  const body = `grove access check ${now.toISOString()}`;
  try {
    await s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body }));
    const read = await s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
    const text = await read.Body?.transformToString();
    if (text !== body) throw new GroveError('Backup', `s3://${store.bucket}/${key} read back different content`);
  } catch (err) {
    const refused = refusedIn(err);
    if (refused) throw new DestinationRefused(`cannot reach BackupStore endpoint ${store.endpoint}: ${refused.message}`);
    if (err instanceof GroveError) throw err;
    const reason = err instanceof S3ServiceException ? `${err.name}: ${err.message}` : messageOf(err);
    throw new GroveError('Backup', `cannot write and read s3://${store.bucket}/${key} at ${store.endpoint}: ${reason}`, { cause: err });
  } finally {
    s3.destroy();
  }
}

/** The store's settings and Secrets; a missing or unconsenting Secret, or a missing key, is a `wait` with its name. */
export async function resolveStore(kube: Kube, store: BackupStore): Promise<StoreAccess> {
  try {
    return await loadStoreAccess(kube, store);
  } catch (err) {
    if (!(err instanceof GroveError)) throw err;
    const reason = err.code === 'NotFound' ? REASONS.secretNotFound : err.code === 'Forbidden' ? REASONS.secretNotUsable : REASONS.credentialsInvalid;
    throw new ReconcileError(reason, err.message, 'wait', { cause: err, requeueAfterMs: 30_000 });
  }
}

/** The restic repository of a Project, in the BackupStore it names; a missing store is a `wait` or a `stall` that says which. */
export async function projectRepository(kube: Kube, project: Project): Promise<ResticRepository> {
  const ref = project.spec.backupStoreRef;
  if (!ref) throw new ReconcileError(REASONS.noBackupStore, `Project ${project.metadata.name} names no backupStoreRef`, 'stall');
  const store = await kube.get<BackupStore>({ apiVersion: API_VERSION, kind: 'BackupStore', namespace: project.metadata.namespace, name: ref.name });
  if (!store) throw new ReconcileError(REASONS.noBackupStore, `BackupStore ${ref.name} does not exist`, 'wait', { requeueAfterMs: 30_000 });
  return repositoryOf(await resolveStore(kube, store), project.metadata.namespace as string, project.metadata.name as string);
}
