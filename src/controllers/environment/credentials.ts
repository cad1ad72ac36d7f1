/**
 * The credentials step: each service's credentials, read from the Environment's own namespace or
 * made new — never copied from another Environment — and with them everything the plan needs.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { CONDITIONS, credentialsSecret, FIELD_MANAGER, findCondition, type KubeObject } from '../../api/index.ts';
import { isForbidden, type Kube } from '../../kube/index.ts';
import { operatorRoleBinding, type PlanInput, type ServiceCredentials } from '../../planner/index.ts';
import { heldByLockdown, lockdownOf } from '../../policy/index.ts';
import { type Read, readConfirmed } from '../shared.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';

export function credentialsStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'credentials',
    async run({ object: env, status, state }) {
      const { project, manifest, revision, life, target, namespaceExists } = given(state, 'project', 'manifest', 'revision', 'life', 'namespaceExists');
      // The deploy hook runs once the workloads of this very revision are available.
      const workloadsAvailable = status.observedRevision === revision && findCondition(status.conditions, CONDITIONS.workloadsAvailable)?.status === 'True';
      const services = Object.keys(manifest.services);
      const planFor = (credentials: PlanInput['credentials']): PlanInput => ({
        environment: env,
        project,
        manifest,
        revision,
        credentials,
        workloadsAvailable,
        sleeping: life.sleeping,
        moverNamespace: deps.movers.namespace,
        ...(deps.access ? { access: deps.access } : {}),
        ...(deps.internalNetworks ? { internalNetworks: deps.internalNetworks } : {}),
        ...(heldByLockdown(lockdownOf(project, deps.lockdown?.()), env.spec.type) ? { lockdown: true } : {}),
      });
      const credentials = await credentialsFor(deps.kube, deps.read, namespaceExists ? target : undefined, services).catch(async (err: unknown) => {
        if (!deps.access || !isForbidden(err)) throw err;
        // The operator's rights there come from its own RoleBinding, which is gone (or was never
        // applied after the namespace): put it back, then read again (a refusal retries later).
        const binding = operatorRoleBinding(planFor({}));
        if (binding) await deps.kube.apply(binding, { fieldManager: FIELD_MANAGER, force: true });
        return credentialsFor(deps.kube, deps.read, target, services);
      });
      state.planInput = planFor(credentials);
      return undefined;
    },
  };
}

/**
 * The live credentials of each service in `namespace`, or new random ones. Without a namespace
 * (not made yet) there is nothing to read, and nothing may be: the operator's rights there come
 * from the RoleBinding it has not applied yet.
 */
async function credentialsFor(kube: Kube, read: Read, namespace: string | undefined, services: string[]): Promise<Record<string, ServiceCredentials>> {
  const result: Record<string, ServiceCredentials> = {};
  for (const service of services) {
    // Confirmed, because an absent Secret means new credentials: a cache that lags must not cause that.
    const secret = namespace ? await readConfirmed<KubeObject & { data?: Record<string, string> }>(kube, read, { apiVersion: 'v1', kind: 'Secret', namespace, name: credentialsSecret(service) }) : undefined;
    const value = (k: string): string | undefined => (secret?.data?.[k] ? Buffer.from(secret.data[k], 'base64').toString('utf8') : undefined);
    const username = value('username');
    const password = value('password');
    const database = value('database');
    result[service] = username && password && database ? { username, password, database } : { username: 'app', password: randomBytes(24).toString('base64url'), database: 'app' };
  }
  return result;
}
