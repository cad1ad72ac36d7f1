// Production and protected Environments, guarded by the API server itself (no operator runs
// here): an identity with the agents' rights — get, list, create, update, patch and delete on
// Environments — cannot delete, confirm the deletion of, demote, unprotect, re-time, re-parent or
// skip the final backup of one; each attempt is refused and changes nothing. The Project's admins
// hold the `confirm` verb: they confirm, and only then does the deletion go through. A Restore
// over such an Environment's data needs that verb too.
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Environment } from '../../../src/api/index.ts';
import { cluster, kube, testNamespace } from '../helpers.ts';

const api = 'grove.dev/v1alpha1';
const AGENT = ['--as=coder-7', '--as-group=grove:agents'];
const ADMIN = ['--as=ada', '--as-group=grove:admins'];

let ns: string;

/** kubectl as someone; resolves with what it printed, refused or not. */
async function kubectl(as: string[], ...args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...as, '-n', ns, ...args]);
    return { ok: true, out: stdout };
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${stdout}${stderr}` };
  }
}

const env = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name });

beforeAll(async () => {
  ns = await testNamespace('guard');
  const admin = (...args: string[]) => kubectl([], ...args);
  await admin('create', 'role', 'agents', '--verb=get,list,watch,create,update,patch,delete', '--resource=environments.grove.dev');
  await admin('create', 'rolebinding', 'agents', '--role=agents', '--group=grove:agents');
  await admin('create', 'role', 'admins', '--verb=get,list,watch,create,update,patch,delete,confirm', '--resource=environments.grove.dev');
  await admin('create', 'rolebinding', 'admins', '--role=admins', '--group=grove:admins');
  await admin('create', 'role', 'restorers', '--verb=get,list,create', '--resource=restores.grove.dev');
  await admin('create', 'rolebinding', 'restorers', '--role=restorers', '--group=grove:agents', '--group=grove:admins');
  const make = (name: string, spec: Partial<Environment['spec']>) =>
    kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name, namespace: ns }, spec: { project: 'shop', branch: 'main', clone: 'empty', ttlSeconds: 86400, ...spec } });
  await make('shop-main', { type: 'production' });
  await make('shop-kept', { branch: 'kept', protected: true });
  await make('shop-agent-login', { branch: 'agent/login' });
});

/** A Restore of `backup` over `target`'s data, as YAML for kubectl. */
const overwrite = (name: string, target: string): string =>
  JSON.stringify({ apiVersion: api, kind: 'Restore', metadata: { name }, spec: { backup: 'shop-main-nightly', targetEnvironment: target, overwriteExisting: true } });

describe('the guard of production and protected Environments', () => {
  it('refuses the agents every change that could lose them, and changes nothing', async () => {
    const right = (what: string, name: string) => `${what} Environment ${name} needs the confirm right on it (verb confirm on environments.grove.dev in namespace ${ns}), which the admins of the Project hold and its agents do not`;
    const attempts: Array<[string, string[], string]> = [
      ['delete production', ['delete', 'environment', 'shop-main'], `Environment shop-main is production: it is deleted only after someone with the confirm right on it (verb confirm on environments.grove.dev, which the admins of the Project hold) confirms by setting grove.dev/confirm-delete=shop-main`],
      ['confirm its deletion', ['annotate', 'environment', 'shop-main', 'grove.dev/confirm-delete=shop-main'], right('Confirming the deletion (grove.dev/confirm-delete) of production', 'shop-main')],
      ['demote it', ['patch', 'environment', 'shop-main', '--type=merge', '-p', '{"spec":{"type":"development"}}'], right('Changing spec.type of production', 'shop-main')],
      ['skip its final backup', ['annotate', 'environment', 'shop-main', 'grove.dev/skip-final-backup=true'], right('Skipping the final backup (grove.dev/skip-final-backup) of production', 'shop-main')],
      ['shorten its TTL', ['patch', 'environment', 'shop-main', '--type=merge', '-p', '{"spec":{"ttlSeconds":60}}'], right('Shortening spec.ttlSeconds of production', 'shop-main')],
      // Production has no parent at all (the CRD's own rule); a protected one keeps the one it has.
      ['re-parent production', ['patch', 'environment', 'shop-main', '--type=merge', '-p', '{"spec":{"parent":"shop-feature"}}'], 'a production environment has no parent'],
      ['delete a protected one', ['delete', 'environment', 'shop-kept'], 'Environment shop-kept is protected: it is deleted only after someone with the confirm right on it'],
      ['unprotect it', ['patch', 'environment', 'shop-kept', '--type=merge', '-p', '{"spec":{"protected":false}}'], right('Turning off spec.protected of protected', 'shop-kept')],
      ['re-parent it', ['patch', 'environment', 'shop-kept', '--type=merge', '-p', '{"spec":{"parent":"shop-feature"}}'], right('Changing spec.parent of protected', 'shop-kept')],
      ['confirm its deletion', ['annotate', 'environment', 'shop-kept', 'grove.dev/confirm-delete=shop-kept'], right('Confirming the deletion (grove.dev/confirm-delete) of protected', 'shop-kept')],
    ];
    const before = { main: await env('shop-main'), kept: await env('shop-kept') };
    const rows: string[] = [];
    for (const [what, args, refusal] of attempts) {
      const result = await kubectl(AGENT, ...args);
      rows.push(`  ${what.padEnd(24)} ${result.ok ? 'ACCEPTED' : 'refused'}: ${result.out.trim().split('\n')[0]!.replace(/^.*(denied request|Invalid value): /, '')}`);
      expect(result.ok, `${what}: ${result.out}`).toBe(false);
      expect(result.out, what).toContain(refusal);
    }
    console.log(`As a member of grove:agents:\n${rows.join('\n')}`);
    // Nothing changed: not a field, not an annotation, no deletion begun.
    expect((await env('shop-main'))?.metadata.resourceVersion).toBe(before.main?.metadata.resourceVersion);
    expect((await env('shop-kept'))?.metadata.resourceVersion).toBe(before.kept?.metadata.resourceVersion);
    // What agents may still do to them: changes that lose nothing.
    expect((await kubectl(AGENT, 'patch', 'environment', 'shop-main', '--type=merge', '-p', '{"spec":{"ttlSeconds":172800}}')).ok).toBe(true);
  });

  it('refuses the agents a Restore over production or protected data, and takes one over their own', async () => {
    const apply = async (as: string[], restore: string) => {
      const file = join(await mkdtemp(join(tmpdir(), 'restore-')), 'restore.json');
      await writeFile(file, restore);
      return kubectl(as, 'create', '-f', file);
    };
    for (const [name, target, what] of [['over-main', 'shop-main', 'production'], ['over-kept', 'shop-kept', 'protected']] as const) {
      const refused = await apply(AGENT, overwrite(name, target));
      expect(refused.ok, refused.out).toBe(false);
      expect(refused.out).toContain(`Restoring over the data (spec.overwriteExisting of Restore ${name}) of ${what} Environment ${target} needs the confirm right on it (verb confirm on environments.grove.dev in namespace ${ns}), which the admins of the Project hold and its agents do not`);
      expect(await kube().get({ apiVersion: api, kind: 'Restore', namespace: ns, name })).toBeUndefined();
    }
    // Into a new Environment, or over an ordinary one, agents may restore; admins over production too.
    expect((await apply(AGENT, overwrite('over-login', 'shop-agent-login'))).ok).toBe(true);
    expect((await apply(AGENT, JSON.stringify({ apiVersion: api, kind: 'Restore', metadata: { name: 'fresh' }, spec: { backup: 'shop-main-nightly', targetEnvironment: 'shop-main' } }))).ok).toBe(true);
    const admitted = await apply(ADMIN, overwrite('over-main', 'shop-main'));
    expect(admitted.ok, admitted.out).toBe(true);
  });

  it('gives the confirm right to the admins alone, as kubectl auth can-i reads it', async () => {
    const canI = async (as: string[]) => (await kubectl(as, 'auth', 'can-i', 'confirm', 'environments.grove.dev/shop-main')).out.split('\n')[0];
    expect(await canI(AGENT)).toBe('no');
    expect(await canI(ADMIN)).toBe('yes');
  });

  it('lets an admin confirm, after which the deletion goes through', async () => {
    const confirmed = await kubectl(ADMIN, 'annotate', 'environment', 'shop-kept', 'grove.dev/confirm-delete=shop-kept');
    expect(confirmed.ok, confirmed.out).toBe(true);
    const deleted = await kubectl(AGENT, 'delete', 'environment', 'shop-kept', '--wait=false');
    expect(deleted.ok, deleted.out).toBe(true);
    // No operator runs here to release a finalizer: without one the object is gone at once.
    await expect.poll(() => env('shop-kept'), { timeout: 10_000 }).toBeUndefined();
    // An admin may demote production too; the final backup still follows what it was (see the Backup controller's tests).
    expect((await kubectl(ADMIN, 'patch', 'environment', 'shop-main', '--type=merge', '-p', '{"spec":{"type":"staging"}}')).ok).toBe(true);
  });
});
