/**
 * The CLI's tables for people: Environments, Backups, and the aligned columns they share. Pure:
 * they take objects and the time, and return text (the demo prints them too).
 *
 * @module
 */
import { type Backup, CONDITIONS, type Environment, findCondition } from '../../api/index.ts';
import { formatAge } from '../../util/index.ts';

/** Columns padded to their widest cell, two spaces apart. Pure. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n';
}

/** NAME BRANCH TYPE READY REASON URL EXPIRES AGE, aligned. Pure. */
export function environmentTable(items: readonly Environment[], now: number): string {
  if (items.length === 0) return 'No environments.\n';
  const rows = items.map((e) => {
    const ready = findCondition(e.status?.conditions, CONDITIONS.ready);
    return [
      e.metadata.name ?? '',
      e.spec.branch,
      e.spec.type ?? 'development',
      ready?.status ?? 'Unknown',
      ready?.reason ?? '-',
      e.status?.urls?.[0]?.url ?? '-',
      e.status?.expiresAt ? `in ${formatAge(Math.max(0, Date.parse(e.status.expiresAt) - now))}` : '-',
      e.metadata.creationTimestamp ? formatAge(now - Date.parse(e.metadata.creationTimestamp)) : '-',
    ];
  });
  return table(['NAME', 'BRANCH', 'TYPE', 'READY', 'REASON', 'URL', 'EXPIRES', 'AGE'], rows);
}

/** One Environment for people: what it runs, whether it is Ready and why, where its data came from. Pure. */
export function describeEnvironment(env: Environment, now: number): string {
  const s = env.status;
  const lines = [
    `Name:       ${env.metadata.name}`,
    `Branch:     ${env.spec.branch} at ${s?.observedRevision?.slice(0, 12) ?? '(not applied yet)'}`,
    `Type:       ${env.spec.type ?? 'development'}${env.spec.protected ? ', protected' : ''}`,
    `Namespace:  ${s?.namespace ?? '-'}`,
    `URLs:       ${s?.urls?.map((u) => u.url).join(', ') || '-'}`,
    `Expires:    ${s?.expiresAt ? `${s.expiresAt} (in ${formatAge(Math.max(0, Date.parse(s.expiresAt) - now))})` : 'never'}`,
    ...(s?.actor ? [`Actor:      ${[s.actor.agent, s.actor.onBehalfOf && `for ${s.actor.onBehalfOf}`, s.actor.kubernetesUser && `as ${s.actor.kubernetesUser}`, s.actor.source && `via ${s.actor.source}`].filter(Boolean).join(' ')}`] : []),
    'Conditions:',
    ...(s?.conditions ?? []).map((c) => `  ${c.type.padEnd(18)} ${c.status.padEnd(7)} ${c.reason}: ${c.message.split('\n')[0]}`),
    ...(s?.lineage?.length ? ['Lineage:', ...s.lineage.map((l) => `  ${l.volume.padEnd(18)} ${l.source}${l.parent ? ` from ${l.parent}` : ''}${l.backup ? ` (Backup ${l.backup})` : ''}${l.snapshot ? ` (VolumeSnapshot ${l.snapshot})` : ''}`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** NAME ENVIRONMENT TRIGGER READY SIZE VOLUMES EXPIRES AGE, aligned. Pure. */
export function backupTable(items: Backup[], now: number): string {
  const rows = items.map((b) => {
    const ready = b.status?.conditions?.find((c) => c.type === 'Ready');
    return [
      b.metadata.name ?? '',
      b.spec.environment,
      b.spec.trigger ?? 'manual',
      ready ? (ready.status === 'True' ? 'True' : ready.reason) : 'Pending',
      b.status?.sizeBytes !== undefined ? humanBytes(b.status.sizeBytes) : '-',
      String(b.status?.volumes?.length ?? '-'),
      b.status?.expiresAt ? `in ${formatAge(Date.parse(b.status.expiresAt) - now)}` : '-',
      b.metadata.creationTimestamp ? formatAge(now - Date.parse(b.metadata.creationTimestamp)) : '-',
    ];
  });
  const header = ['NAME', 'ENVIRONMENT', 'TRIGGER', 'READY', 'SIZE', 'VOLUMES', 'EXPIRES', 'AGE'];
  if (rows.length === 0) return 'No backups.\n';
  return table(header, rows);
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${units[unit]}`;
}
