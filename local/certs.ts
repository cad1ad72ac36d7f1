/**
 * The local cluster's PKI, generated per cluster with the `openssl` command line (Node can verify
 * certificates but cannot issue them). Nothing here is ever committed: the files live in the
 * cluster's state directory.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GroveError } from '../src/errors/index.ts';

const execFileAsync = promisify(execFile);

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  /** Serving certificate of kube-apiserver (127.0.0.1, localhost, the in-cluster names and `serverIPs`). */
  serverCert: string;
  serverKey: string;
  /** Client certificate of the cluster admin (group system:masters). */
  adminCert: string;
  adminKey: string;
  /** Key pair that signs and verifies service account tokens. */
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** The kubelet's client certificate (group system:nodes), when the cluster has a real node. */
  node?: { cert: string; key: string };
}

export interface PkiOptions {
  /** More addresses the API server is reached at: its address on the node's link, its ClusterIP. */
  serverIPs?: readonly string[];
  /** A real node's name, for its kubelet's client certificate (`system:node:<name>`). */
  nodeName?: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (cause) {
    throw new GroveError('ProcessFailed', `openssl ${args[0]} failed: ${(cause as Error).message}`, { cause });
  }
}

const DAYS = '3650';

export async function generatePki(dir: string, opts: PkiOptions = {}): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', DAYS, '-subj', '/CN=grove-local-ca'], dir);

  await writeFile(
    p('server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${['IP:127.0.0.1', ...(opts.serverIPs ?? []).map((ip) => `IP:${ip}`), 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'].join(',')}`,
      '',
    ].join('\n'),
  );
  await issue('server', '/CN=kube-apiserver', 'server.ext');

  await writeFile(p('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  await issue('admin', '/O=system:masters/CN=grove-admin', 'client.ext');
  // The Node authorizer and NodeRestriction know a kubelet by this name and group.
  if (opts.nodeName) await issue('node', `/O=system:nodes/CN=system:node:${opts.nodeName}`, 'client.ext');

  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);

  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
    ...(opts.nodeName ? { node: { cert: p('node.crt'), key: p('node.key') } } : {}),
  };

  async function issue(name: string, subject: string, ext: string): Promise<void> {
    await openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', DAYS, '-extfile', ext, '-out', `${name}.crt`], dir);
  }
}
