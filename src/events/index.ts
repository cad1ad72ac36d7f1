/**
 * Kubernetes Events (events.k8s.io/v1) for what people watch with `kubectl describe` and
 * `kubectl get events`: significant transitions only, never one per reconcile. An Event that
 * cannot be written is logged and dropped — it must never fail a reconcile.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../api/index.ts';
import { messageOf } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import type { Clock } from '../runtime/index.ts';
import { microTime } from '../util/index.ts';

export interface EventRecorder {
  record(regarding: KubeObject, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void>;
}

export function eventRecorder(kube: Kube, clock: Clock, log: Logger, instance: string): EventRecorder {
  return {
    async record(regarding, type, reason, action, note) {
      const { name, namespace, uid } = regarding.metadata;
      try {
        await kube.create({
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name: `${name}.${randomBytes(6).toString('hex')}`, namespace },
          eventTime: microTime(clock.now()),
          reportingController: 'grove.dev/operator',
          reportingInstance: instance,
          action,
          reason,
          type,
          note: note.length > 1024 ? `${note.slice(0, 1023)}…` : note,
          regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, name, namespace, uid },
        } as KubeObject);
      } catch (err) {
        log.warn({ reason, err: messageOf(err) }, 'Could not record an Event');
      }
    },
  };
}
