/**
 * `grove plan [dir] --branch B`: renders, offline and without a cluster, every object a push of
 * branch B would create — the dry run people and agents read before pushing.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { API_VERSION } from '../api/crds.ts';
import { environmentName, slugify } from '../api/names.ts';
import type { Environment, Project } from '../api/types.gen.ts';
import { GroveError } from '../errors/index.ts';
import { type EnvironmentType, formatError, parseManifest, resolveManifest } from '../manifest/index.ts';
import { planEnvironment } from '../planner/index.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove plan [dir] --branch BRANCH [options]

Renders the objects a push of BRANCH would create, as YAML, without a cluster.

Options:
  --branch B             The branch (required)
  --project NAME         Project name (default: the directory's name)
  --type T               production | staging | development (default: production for the
                         production branch, development otherwise)
  --production-branch B  Default: main
  --revision SHA         Commit to plan (default: the branch's head in DIR's Git repository)
  --domain TEMPLATE      Route host template, e.g. {route}-{environment}.preview.example.com
  --manifest PATH        Manifest path inside DIR (default: platform.yaml)
`;

const PLACEHOLDER = '(generated when applied)';
const run = promisify(execFile);

export async function planCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        branch: { type: 'string' },
        project: { type: 'string' },
        type: { type: 'string' },
        'production-branch': { type: 'string', default: 'main' },
        revision: { type: 'string' },
        domain: { type: 'string' },
        manifest: { type: 'string', default: 'platform.yaml' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new GroveError('InvalidInput', `${(err as Error).message}\n\n${HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values.branch) throw new GroveError('InvalidInput', `--branch is required\n\n${HELP}`);
  const dir = resolve(positionals[0] ?? '.');
  const branch = values.branch;
  const project = values.project ?? (slugify(basename(dir)) || 'project');
  const type = (values.type ?? (branch === values['production-branch'] ? 'production' : 'development')) as EnvironmentType;
  if (!['production', 'staging', 'development'].includes(type)) throw new GroveError('InvalidInput', `--type must be production, staging or development (got "${type}")`);

  const file = join(dir, values.manifest);
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new GroveError('InvalidInput', `cannot read ${file}: ${(cause as Error).message}`, { cause });
  });
  const result = parseManifest(text, values.manifest);
  if (!result.ok) {
    for (const e of result.errors) io.stdout.write(`${formatError(e)}\n`);
    return 1;
  }
  const revision = values.revision ?? (await headRevision(dir, branch, io));
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(revision)) throw new GroveError('InvalidInput', `--revision must be a full commit SHA (got "${revision}")`);

  const name = environmentName(project, branch);
  const environment: Environment = { apiVersion: API_VERSION, kind: 'Environment', metadata: { name, namespace: project }, spec: { project, branch, revision, type } };
  const projectObj: Project = { apiVersion: API_VERSION, kind: 'Project', metadata: { name: project, namespace: project }, spec: { repo: { url: 'https://example.invalid/repo.git' }, ...(values.domain ? { domain: values.domain } : {}) } };
  const manifest = resolveManifest(result.manifest, { type, commit: revision, branch, environment: name });
  const credentials = Object.fromEntries(Object.keys(manifest.services).map((s) => [s, { username: s, password: PLACEHOLDER, database: s }]));
  const plan = planEnvironment({ environment, project: projectObj, manifest, revision, credentials, workloadsAvailable: true });

  io.stdout.write(`# grove plan: branch ${branch} of project ${project} (${type}) at ${revision}\n# Environment ${name} in namespace ${plan.namespace}; ${plan.objects.length} objects\n`);
  for (const url of plan.urls) io.stdout.write(`# route ${url.name}: ${url.url}\n`);
  for (const obj of plan.objects) io.stdout.write(`---\n${stringify(obj, { lineWidth: 0 })}`);
  return 0;
}

async function headRevision(dir: string, branch: string, io: CliIo): Promise<string> {
  try {
    return (await run('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).stdout.trim();
  } catch {
    io.stderr.write(`grove plan: ${dir} has no branch ${branch}; planning revision 0000000 (pass --revision)\n`);
    return '0'.repeat(40);
  }
}
