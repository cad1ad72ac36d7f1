/**
 * The OpenAPI 3.1 document of `/api/v1`, built from the operation table and the CRD schemas, so
 * it describes exactly what the server does. Pure. Also `/llms.txt`, the same in words for agents.
 *
 * @module
 */
import { customResourceDefinition, KINDS } from '../../api/index.ts';
import { AUDIT_ACTIONS, AUDIT_SOURCES } from '../../audit/index.ts';
import { DNS_LABEL, OPERATIONS, type Operation, rbacResource } from './routes.ts';

const problem = {
  type: 'object',
  description: 'An RFC 9457 problem document.',
  required: ['title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      description: 'With 422 from planBranch: each error of the manifest, with its position.',
      items: { type: 'object', required: ['file', 'line', 'column', 'field', 'message'], properties: { file: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' }, field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

/** A body field that names an object: what the path placeholders accept too. */
const objectName = (description: string) => ({ type: 'string', minLength: 1, maxLength: 63, pattern: `^${DNS_LABEL}$`, description });

const lockdownBody = {
  type: 'object',
  required: ['engaged'],
  additionalProperties: false,
  properties: { engaged: { type: 'boolean', description: 'true engages the switch, false lifts it.' }, reason: { type: 'string', maxLength: 500, description: 'Why, for whoever looks at it next.' } },
};

const BODIES: Partial<Record<Operation['id'], Record<string, unknown>>> = {
  createEnvironment: {
    type: 'object',
    required: ['name', 'project', 'branch'],
    additionalProperties: false,
    properties: {
      name: objectName('The Environment (and its namespace suffix).'),
      project: objectName('The Project the Environment belongs to.'),
      branch: { type: 'string', minLength: 1 },
      revision: { type: 'string', description: 'A commit to pin; the branch head when absent.' },
      parent: objectName('The Environment whose data is cloned; production when absent.'),
      type: { enum: ['development', 'staging', 'production'] },
      ttlSeconds: { type: 'integer' },
      sleepAfterSeconds: { type: 'integer' },
      clone: { enum: ['auto', 'snapshot', 'backup', 'empty'] },
      protected: { type: 'boolean' },
    },
  },
  createBackup: { type: 'object', required: ['environment'], additionalProperties: false, properties: { environment: objectName('The Environment to back up.'), name: objectName('The Backup; generated when absent.'), retainSeconds: { type: 'integer', minimum: 60 } } },
  createRestore: {
    type: 'object',
    required: ['backup'],
    additionalProperties: false,
    properties: { backup: objectName('The Backup to restore.'), targetEnvironment: objectName('The Environment to restore into; a new one when absent.'), overwriteExisting: { type: 'boolean' }, name: objectName('The Restore; generated when absent.') },
  },
  createRehearsal: {
    type: 'object',
    required: ['project', 'branch'],
    additionalProperties: false,
    properties: {
      project: objectName('The Project.'),
      branch: { type: 'string', minLength: 1 },
      revision: { type: 'string', pattern: '^[0-9a-f]{40}$', description: 'The commit to rehearse; the branch head when absent.' },
      parent: objectName('The Environment whose current data is cloned; production when absent.'),
      pullRequest: { type: 'integer', minimum: 1, description: 'The pull request whose comment reports it.' },
      name: objectName('The Rehearsal; `<project>-rehearse-<revision>` when a revision is given, generated otherwise.'),
    },
  },
  lockdownProject: lockdownBody,
  lockdownOperator: lockdownBody,
  planBranch: {
    type: 'object',
    required: ['branch'],
    additionalProperties: false,
    properties: { branch: { type: 'string', minLength: 1 }, revision: { type: 'string', description: 'A full commit SHA to plan; the branch head when absent.' } },
  },
};

const QUERIES: Partial<Record<Operation['id'], Array<{ name: string; description: string; schema: Record<string, unknown> }>>> = {
  listEnvironments: [{ name: 'project', description: 'Only this Project\'s Environments.', schema: { type: 'string' } }],
  waitEnvironment: [{ name: 'timeoutSeconds', description: 'How long to wait (default 60, at most 600).', schema: { type: 'integer', minimum: 0, maximum: 600 } }],
  listBackups: [{ name: 'environment', description: 'Only this Environment\'s Backups.', schema: { type: 'string' } }],
  listRehearsals: [{ name: 'project', description: 'Only this Project\'s Rehearsals.', schema: { type: 'string' } }],
  readAudit: [
    { name: 'environment', description: 'Only events about this Environment.', schema: { type: 'string' } },
    { name: 'actor', description: 'Only events by this agent, person or Kubernetes user.', schema: { type: 'string' } },
    { name: 'action', description: 'Only events of this action.', schema: { enum: [...AUDIT_ACTIONS] } },
    { name: 'since', description: 'From this RFC 3339 time.', schema: { type: 'string', format: 'date-time' } },
    { name: 'until', description: 'Up to this RFC 3339 time.', schema: { type: 'string', format: 'date-time' } },
  ],
};

const lockdownState = {
  type: 'object',
  description: 'A kill switch as it now stands.',
  required: ['engaged', 'by'],
  properties: { engaged: { type: 'boolean' }, by: { type: 'string', description: 'The Project or ConfigMap that holds it.' }, reason: { type: 'string' } },
};

const ref = (kind: string) => ({ $ref: `#/components/schemas/${kind}` });
const listOf = (kind: string) => ({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref(kind) } } });
const text = { type: 'string' };

/** What each operation answers on success, so clients can generate their types. */
const RESPONSES: Record<Operation['id'], Record<string, unknown>> = {
  listEnvironments: listOf('Environment'),
  getEnvironment: ref('Environment'),
  createEnvironment: ref('Environment'),
  deleteEnvironment: { type: 'object', required: ['deleting'], properties: { deleting: text, detail: text } },
  waitEnvironment: {
    type: 'object',
    required: ['ready', 'environment'],
    properties: { ready: { type: 'boolean' }, stalled: { type: 'boolean', description: 'True when it cannot become Ready without a change.' }, reason: text, message: text, environment: ref('Environment') },
  },
  renewEnvironment: ref('Environment'),
  sleepEnvironment: ref('Environment'),
  wakeEnvironment: ref('Environment'),
  listBackups: listOf('Backup'),
  createBackup: ref('Backup'),
  createRestore: ref('Restore'),
  getRestore: ref('Restore'),
  listRehearsals: listOf('Rehearsal'),
  createRehearsal: ref('Rehearsal'),
  getRehearsal: ref('Rehearsal'),
  readAudit: listOf('AuditEvent'),
  planBranch: ref('BranchPlan'),
  lockdownProject: ref('Lockdown'),
  lockdownOperator: ref('Lockdown'),
};

const auditEvent = {
  type: 'object',
  description: 'One action on a Grove object: who, through what, with which outcome.',
  required: ['id', 'time', 'actor', 'source', 'action', 'object', 'project', 'decision', 'result'],
  properties: {
    id: { type: 'string', description: 'Stable for one action.' },
    time: { type: 'string', format: 'date-time' },
    actor: { type: 'object', properties: { agent: text, onBehalfOf: text, task: text, kubernetesUser: text, pusher: text } },
    source: { enum: [...AUDIT_SOURCES] },
    action: { enum: [...AUDIT_ACTIONS] },
    object: { type: 'object', required: ['kind', 'namespace', 'name'], properties: { kind: text, namespace: text, name: text } },
    project: text,
    environment: text,
    revision: text,
    decision: { enum: ['allowed', 'denied'] },
    result: { enum: ['succeeded', 'failed', 'started'] },
    message: text,
  },
};

const branchPlan = {
  type: 'object',
  description: 'What a push of the branch would make, and whether policy admits it.',
  required: ['project', 'branch', 'revision', 'environment', 'admitted', 'denials', 'urls', 'objects'],
  properties: {
    project: text,
    branch: text,
    revision: text,
    environment: {
      type: 'object',
      required: ['name', 'namespace', 'type', 'targetNamespace', 'object'],
      properties: { name: text, namespace: text, type: { enum: ['development', 'staging', 'production'] }, parent: text, targetNamespace: text, object: ref('Environment') },
    },
    admitted: { type: 'boolean' },
    reason: text,
    message: text,
    denials: { type: 'array', items: { type: 'object', required: ['rule', 'message'], properties: { rule: text, message: text } } },
    urls: { type: 'array', items: { type: 'object', required: ['name', 'url'], properties: { name: text, url: text } } },
    objects: { type: 'array', items: { type: 'object', description: 'A Kubernetes object the Environment would run, as planned.' } },
  },
};

/** The names of an operation's path placeholders, query parameters and body fields. */
export function argumentsOf(op: Operation): { path: string[]; query: string[]; body: string[] } {
  const body = BODIES[op.id] as { properties?: Record<string, unknown> } | undefined;
  return { path: [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string), query: (QUERIES[op.id] ?? []).map((q) => q.name), body: Object.keys(body?.properties ?? {}) };
}

/** All of an operation's arguments as one JSON Schema object: what an MCP tool takes. */
export function inputSchemaOf(op: Operation): { type: 'object'; properties: Record<string, unknown>; required: string[]; additionalProperties: false } {
  const body = BODIES[op.id] as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  const args = argumentsOf(op);
  const properties: Record<string, unknown> = {
    ...Object.fromEntries(args.path.map((name) => [name, { type: 'string', description: name === 'namespace' ? 'The project namespace.' : `The ${name}.` }])),
    ...Object.fromEntries((QUERIES[op.id] ?? []).map((q) => [q.name, { ...q.schema, description: q.description }])),
    ...(body?.properties ?? {}),
  };
  return { type: 'object', properties, required: [...args.path, ...(body?.required ?? [])], additionalProperties: false };
}

let rendered: Record<string, unknown> | undefined;

/** The document, rendered once: it depends only on the code. */
export function openApiDocument(): Record<string, unknown> {
  rendered ??= renderOpenApi();
  return rendered;
}

function renderOpenApi(): Record<string, unknown> {
  const schemas: Record<string, unknown> = { Problem: problem, AuditEvent: auditEvent, BranchPlan: branchPlan, Lockdown: lockdownState };
  for (const def of KINDS) {
    const crd = customResourceDefinition(def) as { spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> } };
    schemas[def.kind] = crd.spec.versions[0]?.schema.openAPIV3Schema;
  }
  const errors: Record<string, unknown> = Object.fromEntries(
    (
      [
      ['400', 'The request is malformed'],
      ['401', 'No token, or one the API server does not accept'],
      ['403', 'RBAC or Grove\'s policy does not allow it'],
      ['404', 'No such object'],
      ['409', 'The object exists already'],
        ['413', 'The body is larger than 64 KiB'],
        ['422', 'The API server refused the object, or the manifest is invalid'],
        ['502', 'The Project\'s repository could not be read'],
      ] as const
    ).map(([code, description]) => [code, { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }]),
  );
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: objectName(`The ${m[1] === 'name' ? 'object' : m[1]}.`) }));
    const query = (QUERIES[op.id] ?? []).map((q) => ({ ...q, in: 'query', required: false }));
    const body = BODIES[op.id];
    (paths[op.path] ??= {})[op.method.toLowerCase()] = {
      operationId: op.id,
      summary: op.summary,
      description: `Needs RBAC verb \`${op.verb}\` on \`${rbacResource(op)}\` in the namespace.`,
      parameters: [...params, ...query],
      ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
      responses: { [op.id.startsWith('create') ? '201' : op.id === 'deleteEnvironment' ? '202' : '200']: { description: 'Done', content: { 'application/json': { schema: RESPONSES[op.id] } } }, ...errors },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Grove API', version: 'v1', description: 'Git-native environments: what agents and people do with Environments, Backups, Restores, migration Rehearsals and the audit trail.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Kubernetes token (TokenReview); RBAC decides (SubjectAccessReview).' } } },
  };
}

/** `/llms.txt`: the API in words, for agents. */
export function llmsText(): string {
  const lines = OPERATIONS.map((op) => `- ${op.method} ${op.path} — ${op.summary} (RBAC: ${op.verb} ${rbacResource(op)})`);
  const bodies = OPERATIONS.filter((op) => BODIES[op.id]).map((op) => {
    const body = BODIES[op.id] as { properties: Record<string, { description?: string }>; required?: string[] };
    const fields = Object.entries(body.properties).map(([name, f]) => `  - ${name}${body.required?.includes(name) ? ' (required)' : ''}${f.description ? `: ${f.description}` : ''}`);
    return [`- ${op.id}`, ...fields].join('\n');
  });
  return `# Grove

> Grove turns each Git branch into an isolated Environment (its own Kubernetes namespace with the
> apps, databases and data of production, cloned). Push a branch, or use this API.

## Authentication
Send a Kubernetes token: \`Authorization: Bearer <token>\` (a ServiceAccount's: \`kubectl create token NAME -n NS\`).
What the token may do is what its RBAC allows on the grove.dev resources in the project namespace.

## Where you are
Grove serves one or more project namespaces; each holds Projects (one per Git repository) and
their Environments. Your token's ServiceAccount lives in the project namespace you may use, and
\`GET /api/v1/namespaces/{namespace}/environments\` lists its Environments with their
\`spec.project\` (\`kubectl get projects -n NAMESPACE\` shows each Project's repository). An
Environment made from a branch is named \`<project>-<branch slug>\`; pushing the branch makes it.

## Operations
${lines.join('\n')}

## Request bodies
${bodies.join('\n')}

Names (Environment, Project, Backup, Restore, Rehearsal) are DNS labels: at most 63 of a-z, 0-9 and '-'.
The full schema, with every response, is at /openapi.json. Errors are RFC 9457 problem
documents: read \`detail\`.

## MCP
The same operations are MCP tools at \`/mcp\` (Streamable HTTP, stateless), named by their
operation ids (\`createEnvironment\`, \`waitEnvironment\`, …), with the same
\`Authorization: Bearer\` header and the same RBAC.

## Typical session
0. POST /api/v1/namespaces/team/projects/shop/plan {"branch": "fix/login"} → the Environment, objects, URLs and policy denials a push would bring (422 lists each manifest error with file:line:column).
1. POST /api/v1/namespaces/team/environments {"name": "shop-fix-login", "project": "shop", "branch": "fix/login"}
2. GET /api/v1/namespaces/team/environments/shop-fix-login/wait?timeoutSeconds=300 → {"ready": true, "environment": {...}}; URLs are in environment.status.urls.
3. POST …/environments/shop-fix-login/renew while you work; it expires after its TTL without activity.
4. DELETE …/environments/shop-fix-login when done.
`;
}
