/**
 * Who pushed what, from the webhooks this replica received: attribution for the next sync of a
 * Project. Kept in memory only; a push nobody syncs again is not worth more than a bounded map.
 *
 * @module
 */
import type { Push } from '../source/git/index.ts';

/** Pushes remembered per Project; the oldest go first past this many branches. */
const MAX_BRANCHES = 1000;

export class PushLog {
  readonly #byProject = new Map<string, Map<string, Push>>();

  record(namespace: string, project: string, push: Push): void {
    const key = `${namespace}/${project}`;
    const branches = this.#byProject.get(key) ?? new Map<string, Push>();
    // Delete first so a branch pushed again moves to the end (the newest).
    branches.delete(push.branch);
    branches.set(push.branch, push);
    if (branches.size > MAX_BRANCHES) branches.delete(branches.keys().next().value as string);
    this.#byProject.set(key, branches);
  }

  /** The latest push of each branch of a Project, by branch. */
  of(namespace: string, project: string): ReadonlyMap<string, Push> {
    return this.#byProject.get(`${namespace}/${project}`) ?? new Map();
  }
}
