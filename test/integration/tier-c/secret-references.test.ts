// A Project or BackupStore may name only Secrets its author can read, checked by the API server
// itself (no operator runs here): Grove sends a named Secret's values to the object's URL, so
// naming a Secret must not be a way to read it.
import { execFile } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../../src/api/index.ts';
import { cluster, createSecret, kube, testNamespace } from '../helpers.ts';

const api = 'grove.dev/v1alpha1';
/** A project admin who may make Projects and BackupStores and read one Secret, shop-git. */
const OPS = ['--as=olu', '--as-group=grove:ops'];

let ns: string;

/** kubectl as someone, with `input` on stdin; resolves with what it printed, refused or not. */
function kubectl(as: string[], args: string[], input?: object): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...as, '-n', ns, ...args], (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
    child.stdin?.end(input ? JSON.stringify(input) : '');
  });
}

const project = (name: string, spec: Record<string, unknown>) => ({ apiVersion: api, kind: 'Project', metadata: { name, namespace: ns }, spec: { repo: { url: 'https://git.example.com/shop.git' }, ...spec } });
const store = (name: string, credentials: string) => ({
  apiVersion: api,
  kind: 'BackupStore',
  metadata: { name, namespace: ns },
  spec: { s3: { endpoint: 'https://s3.example.com', bucket: 'backups' }, credentialsSecretRef: { name: credentials }, resticPasswordSecretRef: { name: 'shop-git' } },
});
const refusal = (kind: string, name: string, secret: string, field: string, to?: string) =>
  `${kind} ${name} ${to ? `would send Secret ${secret} (spec.${field}) to ${to}, but you may not read that Secret` : `names Secret ${secret} in spec.${field}, which you may not read`} (verb get on secrets in namespace ${ns}): an object may name only Secrets its author can read`;

beforeAll(async () => {
  ns = await testNamespace('secrefs');
  const admin = (...args: string[]) => kubectl([], args);
  await admin('create', 'role', 'ops', '--verb=get,list,create,update,patch', '--resource=projects.grove.dev,backupstores.grove.dev');
  await admin('create', 'role', 'ops-secret', '--verb=get', '--resource=secrets', '--resource-name=shop-git');
  for (const role of ['ops', 'ops-secret']) await admin('create', 'rolebinding', role, `--role=${role}`, '--group=grove:ops');
  await createSecret(ns, 'shop-git', { token: 'ours' }, ['Project/shop']);
  await createSecret(ns, 'prod-s3', { AWS_ACCESS_KEY_ID: 'theirs', AWS_SECRET_ACCESS_KEY: 'theirs' }, ['BackupStore/prod']);
});

describe('Secret references', () => {
  it('refuses a Project or BackupStore that names a Secret its author cannot read, and keeps nothing of it', async () => {
    const attempts: Array<[string, string[], object, string]> = [
      ['a Project naming it for Git', ['create', '-f', '-'], project('grab', { repo: { url: 'https://evil.example/x.git', secretRef: { name: 'prod-s3' } } }), refusal('Project', 'grab', 'prod-s3', 'repo.secretRef', 'https://evil.example/x.git')],
      ['a Project naming it for webhooks', ['create', '-f', '-'], project('grab', { webhook: { secretRef: { name: 'prod-s3' } } }), refusal('Project', 'grab', 'prod-s3', 'webhook.secretRef')],
      ['a BackupStore naming it', ['create', '-f', '-'], store('grab', 'prod-s3'), refusal('BackupStore', 'grab', 'prod-s3', 'credentialsSecretRef', 'https://s3.example.com')],
    ];
    const rows: string[] = [];
    for (const [what, args, input, expected] of attempts) {
      const result = await kubectl(OPS, args, input);
      rows.push(`  ${what.padEnd(34)} ${result.ok ? 'ACCEPTED' : 'refused'}: ${result.out.trim().split('\n')[0]!.replace(/^.*denied request: /, '')}`);
      expect(result.ok, `${what}: ${result.out}`).toBe(false);
      expect(result.out, what).toContain(expected);
    }
    console.log(`As olu, who may read Secret shop-git only:\n${rows.join('\n')}`);
    expect(await kube().get({ apiVersion: api, kind: 'Project', namespace: ns, name: 'grab' })).toBeUndefined();
    expect(await kube().get({ apiVersion: api, kind: 'BackupStore', namespace: ns, name: 'grab' })).toBeUndefined();
  });

  it('accepts the Secrets the author can read, and refuses changing a reference to one they cannot', async () => {
    expect((await kubectl(OPS, ['create', '-f', '-'], project('shop', { repo: { url: 'https://git.example.com/shop.git', secretRef: { name: 'shop-git' } } }))).ok).toBe(true);
    const moved = await kubectl(OPS, ['patch', 'project', 'shop', '--type=merge', '-p', '{"spec":{"repo":{"secretRef":{"name":"prod-s3"}}}}']);
    expect(moved.ok).toBe(false);
    expect(moved.out).toContain(refusal('Project', 'shop', 'prod-s3', 'repo.secretRef', 'https://git.example.com/shop.git'));
    expect((await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name: 'shop' }))?.spec.repo.secretRef?.name).toBe('shop-git');
  });

  it('lets someone without the right edit other fields of an object naming a Secret, but not send it elsewhere', async () => {
    // The cluster admin names prod-s3: olu may change the prefix, not the endpoint its keys go to.
    expect((await kubectl([], ['create', '-f', '-'], store('prod', 'prod-s3'))).ok).toBe(true);
    const edit = await kubectl(OPS, ['patch', 'backupstore', 'prod', '--type=merge', '-p', '{"spec":{"s3":{"prefix":"team"}}}']);
    expect(edit.ok, edit.out).toBe(true);
    const redirect = await kubectl(OPS, ['patch', 'backupstore', 'prod', '--type=merge', '-p', '{"spec":{"s3":{"endpoint":"https://evil.example"}}}']);
    expect(redirect.ok).toBe(false);
    expect(redirect.out).toContain(refusal('BackupStore', 'prod', 'prod-s3', 'credentialsSecretRef', 'https://evil.example'));
  });
});
