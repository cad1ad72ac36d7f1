/**
 * The operator's DestinationPolicy: the flags' networks and allowances, and the addresses of the
 * API server, found rather than configured — the URL the operator's own credentials name, the
 * `kubernetes` Service and the API server's own EndpointSlice in `default`.
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import type { KubeObject } from '../api/index.ts';
import { messageOf } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import { type Destination, type DestinationPolicy, destinationPolicy } from '../outbound/index.ts';

type Service = KubeObject & { spec?: { clusterIPs?: string[]; clusterIP?: string; ports?: Array<{ port: number }> } };
type EndpointSlice = KubeObject & { endpoints?: Array<{ addresses?: string[] }>; ports?: Array<{ port?: number }> };

export async function operatorDestinations(kube: Kube, log: Logger, flags: { internalNetworks?: readonly string[]; allow?: readonly string[] }): Promise<DestinationPolicy> {
  const apiServers: Destination[] = [];
  const url = new URL(kube.serverUrl());
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  try {
    for (const { address } of await lookup(host, { all: true, verbatim: true })) apiServers.push({ address, port });
  } catch (err) {
    log.warn({ host, err: messageOf(err) }, 'Could not resolve the API server host');
  }
  // In a pod, the Service and the endpoints behind it are the same API server by other addresses.
  // Listed, not read: the operator's rights on Services are list and watch.
  const services = await kube.list<Service>('v1', 'Service', { namespace: 'default', fieldSelector: 'metadata.name=kubernetes' }).catch(() => ({ items: [] }));
  const service = services.items[0];
  for (const ip of service?.spec?.clusterIPs ?? (service?.spec?.clusterIP ? [service.spec.clusterIP] : [])) {
    for (const p of service?.spec?.ports ?? []) apiServers.push({ address: ip, port: p.port });
  }
  try {
    const slice = await kube.get<EndpointSlice>({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: 'default', name: 'kubernetes' });
    for (const address of (slice?.endpoints ?? []).flatMap((e) => e.addresses ?? [])) {
      for (const p of slice?.ports ?? []) if (p.port) apiServers.push({ address, port: p.port });
    }
  } catch (err) {
    log.warn({ err: messageOf(err) }, 'Could not read the API server\'s EndpointSlice; its addresses other than the kubeconfig\'s are refused only within --internal-network');
  }
  const policy = destinationPolicy({ ...flags, apiServers });
  log.info({ apiServers: apiServers.map((a) => `${a.address}:${a.port}`), allowed: flags.allow ?? [] }, 'Set where the operator may connect for Projects');
  return policy;
}
