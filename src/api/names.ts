/**
 * Deterministic names (DESIGN §1). A branch's Environment name and namespace never change and
 * never collide: the slug keeps what it can of the branch, and a short hash of the full branch
 * name is added whenever the slug lost anything (characters or length). Pure.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** Environment names are namespace names too: DNS labels. */
export const MAX_ENVIRONMENT_NAME = 63;
const HASH_LENGTH = 8;

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * Lowercase letters, digits and single dashes: `Feature/Über_Login` → `feature-uber-login`.
 * Diacritics are folded; other characters become dashes.
 */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** A DNS label of at most `max` characters from `base`; hashed with `hashOf` when shortened or changed. */
export function dnsLabel(base: string, hashOf: string, max: number, lossy: boolean): string {
  const slug = slugify(base);
  if (!lossy && slug.length > 0 && slug.length <= max && /^[a-z]/.test(slug)) return slug;
  const room = max - HASH_LENGTH - 1;
  const head = slug.slice(0, room).replace(/-+$/, '');
  const prefix = /^[a-z]/.test(head) ? head : `b${head ? `-${head}` : ''}`.slice(0, room).replace(/-+$/, '');
  return `${prefix}-${shortHash(hashOf)}`;
}

/**
 * The Environment of a project's branch: `shop` + `main` → `shop-main`,
 * `shop` + `feature/login` → `shop-feature-login-1a2b3c4d`. Unique per project and branch.
 */
export function environmentName(project: string, branch: string): string {
  return dnsLabel(`${project}-${branch}`, `${project}/${branch}`, MAX_ENVIRONMENT_NAME, slugify(branch) !== branch);
}

/** The Environment of pull request `number`: `<project>-pr-<number>`. */
export function pullRequestEnvironmentName(project: string, number: number): string {
  return dnsLabel(`${project}-pr-${number}`, `${project}/pr/${number}`, MAX_ENVIRONMENT_NAME, false);
}

/**
 * The namespace an Environment runs in: its own name when that already starts with
 * `<project>-` (every Environment made from a branch), else `<project>-<name>`.
 */
export function environmentNamespace(project: string, environment: string): string {
  if (environment.startsWith(`${project}-`)) return environment;
  const name = `${project}-${environment}`;
  return dnsLabel(name, name, 63, false);
}

// The names of what Grove derives from an Environment: every reader (planner, controllers, data
// movers, tests) takes them from here, so two modules never spell one name two ways.

/** Per revision, so a revision that fixes a failed hook runs it anew. */
export function sanitizeJobName(application: string, revision: string): string {
  return `${application}-sanitize-${revision.slice(0, 12)}`;
}

/** The claim a service's StatefulSet gives its only replica (`<template>-<statefulset>-0`). */
export function serviceClaimName(service: string): string {
  return `data-${service}-0`;
}

export function credentialsSecret(service: string): string {
  return `${service}-credentials`;
}

/** The claim that holds a volume: a mount's own, or the one its StatefulSet gives a service's replica. */
export function volumeClaimName(target: { name: string; claimName?: string }): string {
  return target.claimName ?? serviceClaimName(target.name);
}

/** Names of the snapshot objects of one volume's clone, unique per child Environment and volume. */
export function cloneSnapshotNames(child: { metadata: { name?: string; namespace?: string } }, volume: string): { snapshot: string; content: string } {
  const hash = createHash('sha256').update(`${child.metadata.namespace}/${child.metadata.name}/${volume}`).digest('hex');
  return { snapshot: `clone-${volume.slice(0, 63 - 15)}-${hash.slice(0, 8)}`.replace(/-+/g, '-'), content: `grove-clone-${hash.slice(0, 32)}` };
}

/**
 * Names of the snapshot objects that offer one volume of one Backup to Grove's namespace, unique
 * per Backup and volume; the claim made there from the offered snapshot has the snapshot's name.
 */
export function backupSnapshotNames(backup: { namespace: string; name: string }, volume: string): { snapshot: string; content: string } {
  const hash = createHash('sha256').update(`backup/${backup.namespace}/${backup.name}/${volume}`).digest('hex');
  return { snapshot: `backup-${volume.slice(0, 63 - 16)}-${hash.slice(0, 8)}`.replace(/-+/g, '-'), content: `grove-backup-${hash.slice(0, 32)}` };
}

/** Names of the claim a restore fills in Grove's namespace and of the snapshot objects that offer it back, unique per restore and volume. */
export function restoreSnapshotNames(owner: { namespace: string; name: string }, volume: string): { snapshot: string; content: string } {
  const hash = createHash('sha256').update(`restore/${owner.namespace}/${owner.name}/${volume}`).digest('hex');
  return { snapshot: `restore-${volume.slice(0, 63 - 17)}-${hash.slice(0, 8)}`.replace(/-+/g, '-'), content: `grove-restore-${hash.slice(0, 32)}` };
}

/** What a mover Job does: back up, restore, or read a database's schema before or after a rehearsed deploy hook. */
export type MoverAction = 'backup' | 'restore' | 'schema-before' | 'schema-after';

/** `<project>-rehearse-<12 hex>`: a Rehearsal of a revision, within 63 characters. */
export function rehearsalName(project: string, revision: string): string {
  return `${project.slice(0, 63 - 23)}-rehearse-${revision.slice(0, 12)}`;
}

/**
 * A Job name that is unique per backup (or restore) and volume, and at most 63 characters. The
 * owner's namespace is part of it: the Jobs of every project namespace share Grove's own.
 */
export function moverJobName(action: MoverAction, owner: { namespace: string; name: string }, volume: string): string {
  const hash = createHash('sha256').update(`${owner.namespace}/${owner.name}/${volume}`).digest('hex').slice(0, 8);
  return `${action}-${volume.slice(0, 63 - action.length - 10)}-${hash}`.replace(/-+/g, '-');
}
