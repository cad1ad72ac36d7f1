// Builds real Git repositories for tests: a bare repository under the Git server's root, filled
// by the git command line.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RepoBuilder {
  /** Commits `files` on `branch` (created from the current branch if new); returns the SHA. */
  commit(branch: string, files: Record<string, string>, message?: string): Promise<string>;
  deleteBranch(branch: string): Promise<void>;
  /** Pushes every branch (and deletions) to the bare repository. */
  push(): Promise<void>;
  /** Where it pushes. */
  bare: string;
}

export async function createRepo(root: string, name: string): Promise<RepoBuilder> {
  const bare = join(root, `${name}.git`);
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  return repoBuilder(bare);
}

/** A work tree that pushes to `remote`: a bare repository's path, or a URL (with its credentials). */
export async function repoBuilder(remote: string): Promise<RepoBuilder> {
  const bare = remote;
  const work = await mkdtemp(join(tmpdir(), 'grove-repo-'));
  const g = (...args: string[]) => run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], { cwd: work });
  await g('init', '--quiet', '-b', 'main');
  let first = true;
  const deleted: string[] = [];
  return {
    bare,
    async commit(branch, files, message = `Change ${Object.keys(files).join(', ')}`) {
      if (first) first = false;
      else {
        const exists = await g('rev-parse', '--verify', '--quiet', `refs/heads/${branch}`).then(() => true, () => false);
        await g('checkout', '--quiet', ...(exists ? [branch] : ['-b', branch]));
      }
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), text);
      }
      await g('add', '--all');
      await g('commit', '--quiet', '--allow-empty', '-m', message);
      return (await g('rev-parse', 'HEAD')).stdout.trim();
    },
    async deleteBranch(branch) {
      await g('checkout', '--quiet', 'main');
      await g('branch', '--quiet', '-D', branch);
      deleted.push(branch);
    },
    async push() {
      await g('push', '--quiet', '--force', bare, '--all');
      for (const branch of deleted.splice(0)) await g('push', '--quiet', bare, `:refs/heads/${branch}`);
    },
  };
}
