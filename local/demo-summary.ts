/**
 * What `npm run demo` prints when it is done: the Environments, where the branch's data came
 * from, the Backup it came through, and what to do next. Pure.
 *
 * @module
 */
import type { Backup, Environment, VolumeLineage } from '../src/api/index.ts';
import { backupTable, environmentTable, table } from '../src/cli/tables/index.ts';

export interface DemoSummaryInput {
  namespace: string;
  repoUrl: string;
  kubeconfig: string;
  kubectl: string;
  environments: readonly Environment[];
  branch: Environment;
  backup: Backup;
  /** Whether restic checked the repository. */
  checked: boolean;
  leftOut: ReadonlyArray<{ service: string; reason: string }>;
  /** The command that stops everything. */
  downCommand: string;
  /** Tier D: the branch's application, as the demo opened it. */
  page?: { url: string; customers: number; products: number; uploads: number; emails: readonly string[] };
  /** Where the pods ran: `d` on a real node, `c` simulated by kwok. */
  tier?: 'c' | 'd';
  /** The commit status Grove posted to the Git host for the branch's revision. */
  reported?: { state: string; description: string; targetUrl: string };
}

export function demoSummary(input: DemoSummaryInput, now: number): string {
  const { namespace, branch, backup } = input;
  const sections = [
    `Environments in namespace ${namespace} (kubectl get environments -n ${namespace}):\n${indent(environmentTable(input.environments, now))}`,
    `Where the data of ${branch.metadata.name} (branch ${branch.spec.branch}) came from (status.lineage):\n${indent(lineageTable(branch.status?.lineage ?? []))}`,
    `The Backup it was cloned through, in MinIO with restic${input.checked ? ' (restic check: no errors)' : ''}:\n${indent(backupTable([backup], now))}\n${indent(backupVolumesTable(backup))}`,
  ];
  if (input.reported) {
    const r = input.reported;
    sections.push(`What the Git host shows for ${branch.spec.branch} at ${(branch.spec.revision ?? '').slice(0, 12)} (Grove's commit status grove/${branch.metadata.name ?? ''}):\n  ${r.state}: ${r.description}${r.targetUrl ? ` (${r.targetUrl})` : ''}\n`);
  }
  if (input.page) {
    const p = input.page;
    sections.push(
      `The branch's application, running on the node with production's data (sanitised: ${p.emails.join(', ')}):\n  ${p.customers} customers, ${p.products} products, ${p.uploads} uploads\n  Open ${p.url} (a kubectl port-forward to service/web, stopped by down)\n`,
    );
  } else if (input.tier === 'c') {
    sections.push(
      'On tier C nothing really runs: kwok marks the pods Ready, the databases are a host PostgreSQL server and a host runner plays the kubelet for the mover pods. On a machine that can run tier D (root, containerd), the demo runs everything for real.\n',
    );
  }
  if (input.leftOut.length > 0) sections.push(`Left out of examples/shop on this host:\n${input.leftOut.map((l) => `  ${l.service}: ${l.reason}\n`).join('')}`);
  sections.push(nextSteps(input));
  return sections.join('\n');
}

/** VOLUME SOURCE PARENT FROM SNAPSHOT TAKEN, one row per volume. */
export function lineageTable(lineage: readonly VolumeLineage[]): string {
  if (lineage.length === 0) return 'No lineage recorded.\n';
  const rows = lineage.map((l) => [
    l.volume,
    l.source,
    l.parent ?? '-',
    l.backup ? `Backup ${l.backup}` : l.snapshot ? `VolumeSnapshot ${l.snapshot}` : '-',
    l.snapshotId ? l.snapshotId.slice(0, 8) : '-',
    l.time ?? '-',
  ]);
  return table(['VOLUME', 'SOURCE', 'PARENT', 'FROM', 'SNAPSHOT', 'TAKEN'], rows);
}

/** VOLUME KIND SNAPSHOT READ ADDED FILES, one row per volume of the Backup. */
export function backupVolumesTable(backup: Backup): string {
  const volumes = backup.status?.volumes ?? [];
  if (volumes.length === 0) return 'No volumes backed up yet.\n';
  const rows = volumes.map((v) => [v.name, v.kind, v.snapshotId ?? '-', v.bytesTotal === undefined ? '-' : bytes(v.bytesTotal), v.bytesAdded === undefined ? '-' : bytes(v.bytesAdded), v.files === undefined ? '-' : String(v.files)]);
  return table(['VOLUME', 'KIND', 'RESTIC SNAPSHOT', 'READ', 'ADDED', 'FILES'], rows);
}

function nextSteps(input: DemoSummaryInput): string {
  const onGitea = input.reported !== undefined;
  return `Push a branch of your own${onGitea ? " (Gitea asks for its user and password, both in the local cluster's state.json)" : ''}:
  git clone ${input.repoUrl} shop && cd shop
  echo change >> README.md && git commit -am 'My change'
  git push origin HEAD:feature/x
and watch its Environment appear (${onGitea ? "Gitea's webhook tells Grove at once; the Project also polls every 10 seconds" : 'the Project polls every 10 seconds'}):
  export KUBECONFIG=${input.kubeconfig}
  ${input.kubectl} get environments -n ${input.namespace} -w

Stop everything:
  ${input.downCommand}
`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
