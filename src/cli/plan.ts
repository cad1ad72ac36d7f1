/**
 * `grove plan [dir] --branch B`: renders every object a push of branch B would create — the dry
 * run people and agents read before pushing. Offline and without a cluster from a directory, or
 * with `--server` through Grove's API, from the Project's repository and under its policy.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { API_VERSION, type Project, slugify } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';
import { type EnvironmentType, formatError, parseManifest } from '../manifest/index.ts';
import { describeDenial } from '../policy/index.ts';
import { type BranchPlan, previewBranch } from '../preview/index.ts';
import { ApiCallError, apiClient, SERVER_OPTIONS } from './api-client.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove plan [dir] --branch BRANCH [options]
       grove plan --server URL --project P --branch BRANCH [-n NAMESPACE] [--revision SHA]

Renders the objects a push of BRANCH would create, as YAML, without writing anything: offline
from DIR (no cluster), or with --server from the Project's repository as the operator reads it,
with the policy that would refuse it.

Options:
  --branch B             The branch (required)
  --project NAME         Project name (default: the directory's name)
  --type T               production | staging | development (default: production for the
                         production branch, development otherwise; offline only)
  --production-branch B  Default: main (offline only)
  --revision SHA         Commit to plan (default: the branch's head, in DIR's Git repository
                         offline)
  --domain TEMPLATE      Route host template, e.g. {route}-{environment}.preview.example.com
                         (offline only)
  --manifest PATH        Manifest path inside DIR (default: platform.yaml; offline only)
  --server URL           Plan through Grove's HTTP API (default: $GROVE_SERVER)
  --token T              The Kubernetes token it checks (default: $GROVE_TOKEN); needs get on
                         the Project
  -n, --namespace NS     The project namespace (with --server; default: default)
  -o, --output FORMAT    yaml (default: the objects, with what the plan says as comments) or
                         json (the whole plan)
`;

const run = promisify(execFile);

export async function planCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    branch: { type: 'string' },
    project: { type: 'string' },
    type: { type: 'string' },
    'production-branch': { type: 'string' },
    revision: { type: 'string' },
    domain: { type: 'string' },
    manifest: { type: 'string' },
    namespace: { type: 'string', short: 'n', default: 'default' },
    output: { type: 'string', short: 'o', default: 'yaml' },
    ...SERVER_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values.branch) throw new GroveError('InvalidInput', `--branch is required\n\n${HELP}`);
  if (values.output !== 'yaml' && values.output !== 'json') throw new GroveError('InvalidInput', `--output must be yaml or json (got "${values.output}")`);
  if (values.revision !== undefined && !COMMIT.test(values.revision)) throw new GroveError('InvalidInput', `--revision must be a full commit SHA (got "${values.revision}")`);
  const server = values.server ?? io.env.GROVE_SERVER;
  const print = (plan: BranchPlan): number => {
    io.stdout.write(values.output === 'json' ? `${JSON.stringify(plan, null, 2)}\n` : planText(plan));
    return 0;
  };
  if (server) {
    const offline = (['type', 'production-branch', 'domain', 'manifest'] as const).filter((k) => values[k] !== undefined);
    if (offline.length || positionals.length) throw new GroveError('InvalidInput', `with --server the Project decides; drop ${[...positionals, ...offline.map((k) => `--${k}`)].join(', ')}`);
    if (!values.project) throw new GroveError('InvalidInput', `--project is required with --server\n\n${HELP}`);
    const call = apiClient(server, values.token ?? io.env.GROVE_TOKEN);
    try {
      return print(await call<BranchPlan>('planBranch', { params: { namespace: values.namespace, project: values.project }, body: { branch: values.branch, ...(values.revision ? { revision: values.revision } : {}) } }));
    } catch (err) {
      // Manifest errors read as they do offline: one per line, each with its position.
      const errors = err instanceof ApiCallError ? err.problem.errors : undefined;
      if (!errors?.length) throw err;
      for (const e of errors) io.stdout.write(`${formatError({ ...e, path: e.field })}\n`);
      return 1;
    }
  }
  if (values.token) throw new GroveError('InvalidInput', '--token goes with --server (or GROVE_SERVER)');

  const dir = resolve(positionals[0] ?? '.');
  const branch = values.branch;
  const manifestPath = values.manifest ?? 'platform.yaml';
  const project = values.project ?? (slugify(basename(dir)) || 'project');
  const type = values.type as EnvironmentType | undefined;
  if (type !== undefined && !['production', 'staging', 'development'].includes(type)) throw new GroveError('InvalidInput', `--type must be production, staging or development (got "${type}")`);

  const file = join(dir, manifestPath);
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new GroveError('InvalidInput', `cannot read ${file}: ${(cause as Error).message}`, { cause });
  });
  const result = parseManifest(text, manifestPath);
  if (!result.ok) {
    for (const e of result.errors) io.stdout.write(`${formatError(e)}\n`);
    return 1;
  }
  const revision = values.revision ?? (await headRevision(dir, branch, io));
  if (!COMMIT.test(revision)) throw new GroveError('InvalidInput', `--revision must be a full commit SHA (got "${revision}")`);

  const projectObj: Project = {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: project, namespace: project },
    spec: { repo: { url: 'https://example.invalid/repo.git' }, productionBranch: values['production-branch'] ?? 'main', ...(values.domain ? { domain: values.domain } : {}) },
  };
  return print(previewBranch({ project: projectObj, branch, revision, manifest: result.manifest, branches: new Map(), existing: [], now: Date.now(), ...(type ? { type } : {}) }));
}

const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** The plan as YAML documents, with what it says about them as comments first. Pure. */
export function planText(plan: BranchPlan): string {
  const { environment: env } = plan;
  const lines = [
    `# grove plan: branch ${plan.branch} of project ${plan.project} (${env.type}) at ${plan.revision}`,
    `# Environment ${env.name} in namespace ${env.targetNamespace}; ${plan.objects.length} objects`,
    ...(env.parent ? [`# data from: ${env.parent}`] : []),
    ...plan.urls.map((u) => `# route ${u.name}: ${u.url}`),
    // A policy refusal is said once, by its denials.
    ...(plan.admitted || plan.reason === 'PolicyDenied' ? [] : [`# not made by a push: ${plan.reason}: ${plan.message}`]),
    ...plan.denials.map((d) => `# denied: ${describeDenial(d)}`),
  ];
  return `${lines.join('\n')}\n${plan.objects.map((o) => `---\n${stringify(o.object, { lineWidth: 0 })}`).join('')}`;
}

async function headRevision(dir: string, branch: string, io: CliIo): Promise<string> {
  try {
    return (await run('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).stdout.trim();
  } catch {
    io.stderr.write(`grove plan: ${dir} has no branch ${branch}; planning revision 0000000 (pass --revision)\n`);
    return '0'.repeat(40);
  }
}
