/**
 * The scheduled-backup step: once the Environment is Ready, the Backup of the current slot of the
 * manifest's schedule, made once (its name is the slot's), and a reconcile when the next slot comes.
 *
 * @module
 */
import { API_VERSION } from '../../api/index.ts';
import { backupFor, scheduledBackup } from '../../data/index.ts';
import { createOnce } from '../shared.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';

export function scheduledBackupStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'scheduled-backup',
    async run({ object: env, status, state, now, log }) {
      const { project, manifest } = given(state, 'project', 'manifest');
      if (!project.spec.backupStoreRef) return undefined;
      const { due, nextAt } = scheduledBackup(env, manifest.backups, now);
      if (due) {
        // Another reconcile may create this slot's Backup first: the name keeps it to one.
        const exists = await deps.read({ apiVersion: API_VERSION, kind: 'Backup', namespace: env.metadata.namespace, name: due.name });
        if (!exists && (await createOnce(deps.kube, backupFor(env, due.name, 'scheduled', due.retentionSeconds)))) log.info({ backup: due.name }, 'Created a scheduled backup');
        status.lastScheduledBackupTime = new Date(due.slot).toISOString();
      }
      return nextAt === undefined ? undefined : { requeueAfterMs: Math.max(1000, nextAt - now) };
    },
  };
}
