/**
 * Where audit events go: a dedicated JSON-lines stream, Kubernetes Events, and the BackupStore.
 * A sink that fails logs why and never fails the action it records; the store sink keeps what it
 * could not write and tries again with the next batch.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { pino, type DestinationStream } from 'pino';
import { API_VERSION, type Project } from '../../api/index.ts';
import { keyOf, projectStoreAccess, s3ClientOf, type StoreAccess } from '../../data/store/index.ts';
import type { Outbound } from '../../outbound/index.ts';
import { GroveError, messageOf } from '../../errors/index.ts';
import type { EventRecorder } from '../../events/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import type { Cancel, Clock } from '../../runtime/index.ts';
import { type AuditAction, type AuditEvent, type AuditFilter, type AuditSink, auditDays, auditKey, selectEvents } from '../index.ts';

/** The audit stream: one JSON line per event, marked `"stream":"audit"`, apart from the operator's log levels. */
export function streamSink(destination?: DestinationStream): AuditSink {
  // The event's own `time` is the timestamp; `level` stays so log shippers parse the line like the others.
  const out = pino({ base: { stream: 'audit' }, timestamp: false, formatters: { level: (label) => ({ level: label }) } }, destination);
  return {
    record(event) {
      out.info(event);
      return Promise.resolve();
    },
  };
}

const EVENT_REASONS: Record<AuditAction, string> = {
  create: 'Created',
  update: 'Updated',
  delete: 'Deleted',
  clone: 'Cloned',
  backup: 'BackedUp',
  restore: 'Restored',
  sleep: 'Slept',
  wake: 'Woke',
  expire: 'Expired',
  deny: 'PolicyDenied',
  lockdown: 'LockdownChanged',
  rehearse: 'Rehearsed',
};

/** A Kubernetes Event on the object, saying who did it, so `kubectl describe` shows the trail too. */
export function kubernetesEventSink(events: EventRecorder): AuditSink {
  return {
    async record(e) {
      const who = [
        e.actor.agent && `agent ${e.actor.agent}`,
        e.actor.onBehalfOf && `on behalf of ${e.actor.onBehalfOf}`,
        e.actor.task && `task ${e.actor.task}`,
        e.actor.kubernetesUser && `user ${e.actor.kubernetesUser}`,
        e.actor.pusher && `pushed by ${e.actor.pusher}`,
      ].filter(Boolean);
      const note = `${e.action} ${e.result} via ${e.source}${who.length ? ` by ${who.join(', ')}` : ''}${e.revision ? ` at ${e.revision.slice(0, 12)}` : ''}${e.message ? `: ${e.message}` : ''} (audit ${e.id})`;
      const regarding = { apiVersion: e.object.kind === 'ConfigMap' ? 'v1' : API_VERSION, kind: e.object.kind, metadata: { name: e.object.name, namespace: e.object.namespace, ...(e.object.uid ? { uid: e.object.uid } : {}) } };
      await events.record(regarding, e.decision === 'denied' || e.result === 'failed' ? 'Warning' : 'Normal', EVENT_REASONS[e.action], e.action, note);
    },
  };
}

/** Every event to every sink; a sink's failure is logged, never passed on. */
export function fanOut(log: Logger, sinks: readonly AuditSink[]): AuditSink {
  return {
    async record(event) {
      await Promise.all(
        sinks.map(async (sink) => {
          try {
            await sink.record(event);
          } catch (err) {
            log.warn({ auditId: event.id, err: messageOf(err) }, 'Could not record an audit event');
          }
        }),
      );
    },
  };
}

export interface StoreSinkOptions {
  kube: Kube;
  clock: Clock;
  log: Logger;
  /** Names this writer in object keys, so replicas never write the same key. */
  writer: string;
  flushMs?: number;
  /** A batch is written at once when it reaches this many events. */
  batchSize?: number;
  /** Most events kept per Project while its store cannot be written; older ones are dropped, with a warning. */
  maxPending?: number;
  /** Where the operator may connect for a Project; anywhere when absent. */
  outbound?: Outbound;
}

/** How a BackupStore is reached from here: at another endpoint (outside the cluster), through a DestinationPolicy. */
export interface StoreReach {
  endpoint?: string;
  outbound?: Outbound;
}

export interface StoreSink extends AuditSink {
  /** Writes every pending batch now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  stop(): Promise<void>;
}

/**
 * Appends the trail to the BackupStore of each event's Project, as batches under
 * `audit/<namespace>/<project>/<day>/`. Each batch is a new object that is never rewritten
 * (written with `If-None-Match: *`), so the trail is append-only and survives the Environment.
 */
export function storeSink(opts: StoreSinkOptions): StoreSink {
  const flushMs = opts.flushMs ?? 5_000;
  const batchSize = opts.batchSize ?? 100;
  const maxPending = opts.maxPending ?? 10_000;
  const writer = opts.writer.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63);
  const pending = new Map<string, AuditEvent[]>();
  let sequence = 0;
  let timer: Cancel | undefined;
  let flushing: Promise<void> = Promise.resolve();

  const schedule = (): void => {
    timer ??= opts.clock.after(flushMs, () => {
      timer = undefined;
      void flush();
    });
  };

  const writeProject = async (key: string): Promise<void> => {
    const batch = pending.get(key);
    if (!batch?.length) return;
    const [namespace, project] = key.split('/') as [string, string];
    const events = batch.splice(0, batch.length);
    try {
      // No BackupStore: the stream and the Events hold the trail.
      if (!(await appendBatch(opts.kube, namespace, project, events, { writer, sequence: sequence++ }, opts.clock.now(), opts.outbound ? { outbound: opts.outbound } : {}))) pending.delete(key);
    } catch (err) {
      batch.unshift(...events);
      if (batch.length > maxPending) {
        const dropped = batch.splice(0, batch.length - maxPending).length;
        opts.log.warn({ project: key, dropped }, 'Dropped audit events the BackupStore could not take');
      }
      throw err;
    }
  };

  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      for (const key of [...pending.keys()]) {
        try {
          await writeProject(key);
        } catch (err) {
          opts.log.warn({ project: key, err: messageOf(err) }, 'Could not append the audit trail to the BackupStore; will try again');
        }
      }
      if ([...pending.values()].some((b) => b.length)) schedule();
    });
    return flushing;
  };

  return {
    async record(event) {
      // An operator-wide action has no Project, so no BackupStore: the stream and Events keep it.
      if (!event.project) return;
      const key = `${event.object.namespace}/${event.project}`;
      const batch = pending.get(key) ?? [];
      batch.push(event);
      pending.set(key, batch);
      if (batch.length >= batchSize) await flush();
      else schedule();
    },
    flush,
    async stop() {
      timer?.();
      timer = undefined;
      await flush();
    },
  };
}

/**
 * Writes one batch of a Project's trail as a new object (`If-None-Match: *`: never over another);
 * false when the Project names no BackupStore. `endpoint` reaches the store from outside the cluster.
 */
async function appendBatch(kube: Kube, namespace: string, project: string, events: readonly AuditEvent[], batch: { writer: string; sequence: number }, now: number, reach: StoreReach): Promise<boolean> {
  const p = await kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: project });
  const found = p && (await projectStoreAccess(kube, p));
  if (!found) return false;
  const access = reach.endpoint ? { ...found, endpoint: reach.endpoint.replace(/\/+$/, '') } : found;
  const s3 = s3ClientOf(access, reach.outbound);
  try {
    const objectKey = keyOf(access, auditKey(namespace, project, events[0]?.time ?? new Date(now).toISOString(), batch.writer, batch.sequence));
    await s3.send(new PutObjectCommand({ Bucket: access.bucket, Key: objectKey, Body: events.map((e) => JSON.stringify(e)).join('\n') + '\n', IfNoneMatch: '*', ContentType: 'application/x-ndjson' }));
    return true;
  } finally {
    s3.destroy();
  }
}

/**
 * For a short-lived writer (the CLI): each event goes to its Project's BackupStore at once, and a
 * failure is reported to `onError` — the action it records has happened already.
 */
export function directStoreSink(opts: { kube: Kube; writer: string; endpoint?: string; onError: (err: unknown) => void }): AuditSink {
  // Each run writes under a name of its own, so two runs never race for a key.
  const writer = `${opts.writer.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
  let sequence = 0;
  return {
    async record(event) {
      if (!event.project) return;
      try {
        await appendBatch(opts.kube, event.object.namespace, event.project, [event], { writer, sequence: sequence++ }, Date.now(), opts.endpoint ? { endpoint: opts.endpoint } : {});
      } catch (err) {
        opts.onError(err);
      }
    },
  };
}

/**
 * The trail of a Project as `grove audit` and the API read it: from the BackupStore the Project
 * names, reached at `endpoint` instead of the store's own when given (from outside the cluster).
 */
export async function readProjectTrail(kube: Kube, namespace: string, project: string, filter: AuditFilter, now: number, reach: StoreReach = {}): Promise<AuditEvent[]> {
  const p = await kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: project });
  if (!p) throw new GroveError('NotFound', `Project ${project} does not exist in namespace ${namespace}`);
  const access = await projectStoreAccess(kube, p);
  if (!access) throw new GroveError('NotFound', `Project ${project} names no backupStoreRef, so its trail is only in the operator's audit stream and Events`);
  return readTrail(reach.endpoint ? { ...access, endpoint: reach.endpoint.replace(/\/+$/, '') } : access, namespace, project, filter, now, reach.outbound);
}

/** Reads a Project's trail back from its BackupStore, filtered; each action once, oldest first. */
export async function readTrail(access: StoreAccess, namespace: string, project: string, filter: AuditFilter, now: number, outbound?: Outbound): Promise<AuditEvent[]> {
  const s3 = s3ClientOf(access, outbound);
  try {
    const base = keyOf(access, `audit/${namespace}/${project}/`);
    const prefixes = filter.since !== undefined ? auditDays(filter.since, filter.until ?? now).map((d) => `${base}${d}/`) : [base];
    const events: AuditEvent[] = [];
    for (const prefix of prefixes) {
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: access.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const object of page.Contents ?? []) {
          if (!object.Key?.endsWith('.jsonl')) continue;
          const body = await (await s3.send(new GetObjectCommand({ Bucket: access.bucket, Key: object.Key }))).Body?.transformToString();
          for (const line of (body ?? '').split('\n')) if (line.trim()) events.push(JSON.parse(line) as AuditEvent);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    return selectEvents(events, filter);
  } finally {
    s3.destroy();
  }
}
