/**
 * The five CustomResourceDefinitions of `grove.dev/v1alpha1`: the one source of truth for the
 * API. `npm run generate` renders them to `crds/*.yaml` and `src/api/types.gen.ts`; a unit test
 * fails when either file is stale.
 *
 * Validation lives as close to the API server as it can: structural schemas for shapes and
 * bounds, CEL rules for invariants local to one object. Invariants that span objects (limits,
 * protected production) belong to the controllers and admission policies.
 *
 * @module
 */
import type { CelRule, Schema } from './schema.ts';
import { bool, immutable, int, list, obj, oneOf, quantity, str, time } from './schema.ts';
import { PRIVATE_RANGES } from './constants.ts';

export const GROUP = 'grove.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

// ---------------------------------------------------------------------------------------------
// Shared fragments

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

function dnsLabel(description: string): Schema {
  return str(description, { pattern: DNS_LABEL, minLength: 1, maxLength: 63 });
}

/**
 * Git's own rules for branch names (git-check-ref-format), split between a character class the
 * structural pattern can say and the sequences only CEL can (RE2 has no look-ahead). Unicode is
 * allowed, as Git allows it.
 */
const branchRules: CelRule[] = [
  {
    rule:
      "!self.startsWith('/') && !self.endsWith('/') && !self.startsWith('-') && !self.endsWith('.') && " +
      "!self.endsWith('.lock') && !self.contains('..') && !self.contains('//') && !self.contains('@{') && " +
      "!self.contains('/.') && !self.startsWith('.')",
    message: 'must be a valid Git branch name (see git check-ref-format)',
  },
];

function branchName(description: string, extra: Partial<Schema> = {}): Schema {
  return str(description, {
    minLength: 1,
    maxLength: 255,
    pattern: '^[^\\x00-\\x20\\x7f~^:?*\\[\\\\]+$',
    'x-kubernetes-validations': [...branchRules, ...(extra['x-kubernetes-validations'] ?? [])],
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'x-kubernetes-validations')),
  });
}

function commitSha(description: string): Schema {
  return str(description, { pattern: '^([0-9a-f]{40}|[0-9a-f]{64})$' });
}

function localRef(description: string): Schema {
  return obj(description, { name: dnsLabel('Name of the object in the same namespace.') });
}

function secretKeyRef(title: string, description: string, defaultKey: string): Schema {
  return obj(
    description,
    {
      name: str('Name of the Secret in the same namespace.', { minLength: 1, maxLength: 253 }),
      'key?': str('Key within the Secret.', { default: defaultKey, minLength: 1, maxLength: 253 }),
    },
    { title },
  );
}

const globList = (what: string): Schema =>
  list(`Glob patterns (\`*\` within a path segment, \`**\` across segments) of ${what}.`, str('A glob.', { minLength: 1, maxLength: 255 }), {
    maxItems: 64,
    'x-kubernetes-list-type': 'set',
  });

const ttlSeconds = int('Inactivity time-to-live in seconds; 0 disables expiry.', { minimum: 0, maximum: 31_536_000 });
const sleepAfterSeconds = int('Idle time in seconds after which the environment is scaled to zero; 0 disables sleeping.', {
  minimum: 0,
  maximum: 31_536_000,
});
const quota = (description: string): Schema =>
  obj(
    description,
    {
      'cpu?': quantity('Total CPU requests.'),
      'memory?': quantity('Total memory requests.'),
      'storage?': quantity('Total storage requests.'),
      'pods?': int('Most pods.', { minimum: 1 }),
    },
    { title: 'QuotaSpec' },
  );
const privateRanges = `[${PRIVATE_RANGES.map((r) => `'${r}'`).join(', ')}]`;
const egressRule = obj(
  'An address range pods may reach, on the listed TCP ports (every port when none). The cluster\'s own networks and private ranges inside it stay unreachable.',
  {
    cidr: str('IPv4 or IPv6 range, such as 203.0.113.0/24.', { maxLength: 43 }),
    'ports?': list('TCP ports.', int('A port.', { minimum: 1, maximum: 65535 }), { maxItems: 16, 'x-kubernetes-list-type': 'set' }),
  },
  {
    title: 'EgressRule',
    'x-kubernetes-validations': [
      { rule: 'isCIDR(self.cidr)', message: 'cidr must be an address range such as 203.0.113.0/24' },
      { rule: `!isCIDR(self.cidr) || !${privateRanges}.exists(r, cidr(r).containsCIDR(self.cidr))`, message: 'cidr lies inside a private, link-local or loopback range, which environments never reach' },
    ],
  },
);
const egress = (description: string): Schema =>
  obj(
    description,
    {
      'mode?': oneOf(['deny', 'allowlist', 'internet'], '`deny`: nothing outside the namespace; `allowlist`: the ranges in `allow`; `internet`: every address but private and cluster ones.', { default: 'deny' }),
      'allow?': list('The ranges of `allowlist` mode.', egressRule, { maxItems: 32 }),
    },
    {
      title: 'EgressSpec',
      'x-kubernetes-validations': [{ rule: "!has(self.allow) || size(self.allow) == 0 || (has(self.mode) && self.mode == 'allowlist')", message: 'allow is used only with mode: allowlist' }],
    },
  );
const cloneStrategy = oneOf(
  ['auto', 'snapshot', 'backup', 'empty'],
  'How volumes are filled from the parent: `snapshot` (VolumeSnapshot), `backup` (restore the parent\'s latest backup), `empty`, or `auto` (snapshot when the storage class supports it, else backup).',
);

/** metav1.Condition, as the Kubernetes API conventions define it. */
const condition = obj(
  'An observation of one aspect of the object\'s state.',
  {
    type: str('Type of condition in CamelCase.', {
      maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: oneOf(['True', 'False', 'Unknown'], 'Status of the condition.'),
    'observedGeneration?': int('The .metadata.generation the condition was set from.', { minimum: 0 }),
    lastTransitionTime: time('When the condition last changed status.'),
    reason: str('Machine-readable CamelCase reason for the last transition.', {
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: str('Human-readable details of the transition.', { maxLength: 32768 }),
  },
  { title: 'Condition' },
);

const conditions = list('Current observations of the object\'s state. `Ready` summarises them.', condition, {
  maxItems: 32,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

const observedGeneration = int('The .metadata.generation the status was computed from.', { minimum: 0 });

const actor = obj(
  'Who caused an action and for whom, from commit trailers, the webhook or the Kubernetes user.',
  {
    'agent?': str('The agent that acted (Grove-Agent trailer).', { maxLength: 253 }),
    'onBehalfOf?': str('The person the agent acted for (On-Behalf-Of trailer).', { maxLength: 253 }),
    'task?': str('The task or ticket the work belongs to (Grove-Task trailer).', { maxLength: 253 }),
    'kubernetesUser?': str('The Kubernetes user that made the request, for objects made through the API.', { maxLength: 253 }),
    'pusher?': str('Who pushed the revision, as the Git host\'s webhook named them.', { maxLength: 253 }),
    'identity?': str(
      'Whom per-actor limits count this by, and how that is known: `pusher <name>` (the Git host\'s signed webhook), `user <name>` (the API server), or `agent <name> (claimed)` (a commit trailer, which any pusher can write).',
      { maxLength: 300 },
    ),
    'source?': oneOf(['push', 'webhook', 'kubectl', 'api', 'ttl', 'schedule'], 'Which interface the action came through.'),
  },
  { title: 'Actor' },
);

const volumeLineage = obj(
  'Where one volume\'s data came from.',
  {
    volume: str('The volume (service or mount name).', { maxLength: 253 }),
    source: oneOf(['snapshot', 'backup', 'empty'], 'How the volume was filled.'),
    'parent?': str('The environment the data came from.', { maxLength: 253 }),
    'snapshot?': str('The VolumeSnapshot the volume was created from.', { maxLength: 253 }),
    'backup?': str('The Backup the volume was restored from.', { maxLength: 253 }),
    'snapshotId?': str('The restic snapshot the volume was restored from.', { pattern: '^[0-9a-f]{8,64}$' }),
    'time?': time('When the source was taken.'),
  },
  { title: 'VolumeLineage' },
);

const lineage = list('Where each volume\'s data came from.', volumeLineage, {
  maxItems: 64,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['volume'],
});

const readyColumns = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
] as const;
const ageColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' } as const;

// ---------------------------------------------------------------------------------------------
// Project

const projectSpec = obj('A Git repository whose branches become Environments, and the policy for them.', {
  repo: obj(
    'The Git repository.',
    {
      url: str('Smart-HTTP(S) URL of the repository.', { pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
      'secretRef?': obj(
        'Secret with credentials: key `token`, or keys `username` and `password`.',
        { name: str('Name of the Secret in the same namespace.', { minLength: 1, maxLength: 253 }) },
        { title: 'SecretRef' },
      ),
    },
    { title: 'RepoSpec' },
  ),
  'webhook?': obj(
    'Webhook verification.',
    { secretRef: secretKeyRef('WebhookSecretRef', 'Secret holding the shared HMAC secret or token.', 'secret') },
    { title: 'WebhookSpec' },
  ),
  'gitHost?': obj(
    "The Git host's API, to which Grove reports what became of each revision: a commit status per Environment (pending, success with its URL, failure with the reason), and one comment on each open pull request from its branch, edited in place.",
    {
      type: oneOf(['gitea', 'github', 'gitlab'], "The host's API."),
      'apiUrl?': str("The API's base URL when the repository URL does not imply it (GitHub Enterprise: https://HOST/api/v3; Gitea or GitLab served under a path).", { pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
      secretRef: secretKeyRef('GitHostSecretRef', 'Secret holding a token that may set commit statuses and comment on pull requests; it must list this Project in grove.dev/usable-by.', 'token'),
      'comments?': bool('Comment on the open pull requests whose head is an Environment\'s branch.', { default: true }),
    },
    { title: 'GitHostSpec' },
  ),
  'pullRequests?': obj(
    "Environments per open pull request (GitLab: merge request), listed through the Git host's API (`gitHost`), named `<project>-pr-<number>`, at the pull request's head; one whose pull request is closed or merged goes after `lifecycle.branchGoneGraceSeconds`. Pull requests from forks get none.",
    {
      'labels?': list('Only pull requests with at least one of these labels; all when empty.', str('A label.', { maxLength: 100 }), { maxItems: 32, 'x-kubernetes-list-type': 'set' }),
      'baseBranches?': globList('base branches whose pull requests get Environments'),
      'branchEnvironments?': bool('Whether branches other than production still get Environments of their own, besides their pull requests\'.', { default: true }),
    },
    { title: 'PullRequestsSpec' },
  ),
  'rehearsals?': obj(
    'Migration rehearsals (`Rehearsal`): a branch head whose commit has the trailer `Grove-Rehearse: true` is rehearsed, and so is the head of every open pull request with `label` (listed through `gitHost`).',
    { 'label?': str('The pull-request label that asks for a rehearsal of its head.', { minLength: 1, maxLength: 100 }) },
    { title: 'RehearsalsSpec' },
  ),
  'productionBranch?': branchName('The branch that is production.', { default: 'main' }),
  'branches?': obj(
    'Which branches become Environments. A branch must match an include pattern (all branches when empty) and no exclude pattern.',
    { 'include?': globList('branches to include'), 'exclude?': globList('branches to exclude') },
    { title: 'BranchSelector' },
  ),
  'manifestPath?': str('Path of the platform manifest within the repository.', {
    default: 'platform.yaml',
    minLength: 1,
    maxLength: 1024,
    pattern: '^[^/\\x00][^\\x00]*$',
    'x-kubernetes-validations': [{ rule: "!self.split('/').exists(s, s == '..')", message: 'must not contain ".." segments' }],
  }),
  'pollIntervalSeconds?': int('How often the branches are listed when no webhook arrives.', { default: 60, minimum: 10, maximum: 86400 }),
  'lockdown?': bool(
    "The kill switch: while true, every Environment of this Project but production ones loses all egress beyond its own namespace (DNS and the BackupStore included), and neither Grove nor anyone without the confirm right creates or changes one; production keeps running. The operator-wide switch is the ConfigMap grove-lockdown (data.engaged: \"true\") in the operator's namespace.",
  ),
  'suspend?': bool('Pause the Project: while true its branches are not listed and no Environment is created, moved to a new revision or deleted for them; running Environments stay as they are.'),
  'defaults?': obj(
    'Defaults for the Environments of this Project.',
    {
      'ttlSeconds?': ttlSeconds,
      'sleepAfterSeconds?': sleepAfterSeconds,
      'clone?': cloneStrategy,
      'cloneBackupMaxAgeSeconds?': int(
        'When data is cloned from a backup, the parent\'s latest backup is used if it is at most this old; otherwise a fresh one is taken first.',
        { default: 86400, minimum: 0, maximum: 31_536_000 },
      ),
    },
    { title: 'EnvironmentDefaults' },
  ),
  'limits?': obj(
    'Ceilings that keep a Project from exhausting the cluster.',
    {
      'maxEnvironments?': int('Most Environments this Project may have.', { minimum: 1, maximum: 10000 }),
      'maxEnvironmentsPerActor?': int('Most Environments one actor (agent or person) may have.', { minimum: 1, maximum: 10000 }),
      'minTtlSeconds?': int('Shortest `ttlSeconds` an Environment may set (enforced at admission).', { minimum: 0, maximum: 31_536_000 }),
      'maxTtlSeconds?': int('Longest `ttlSeconds` an Environment may set; when set, `ttlSeconds: 0` (never expire) is refused too (enforced at admission).', { minimum: 1, maximum: 31_536_000 }),
      'quota?': quota('ResourceQuota of each environment namespace, unless `quotaByType` names its type. Without either, development and staging get built-in quotas.'),
      'quotaByType?': obj(
        'ResourceQuota per environment type, overriding `quota`. A manifest that asks for more than its type allows is refused before anything is applied.',
        { 'development?': quota('Quota of development environments.'), 'staging?': quota('Quota of staging environments.'), 'production?': quota('Quota of production environments.') },
        { title: 'QuotaByType' },
      ),
    },
    { title: 'LimitsSpec' },
  ),
  'lifecycle?': obj(
    'How this Project\'s Environments expire, are warned, sleep and are cleaned up.',
    {
      'expiryWarningSeconds?': int('How long before expiry the `Expiring` condition and Event appear.', { default: 3600, minimum: 0, maximum: 2_592_000 }),
      'branchGoneGraceSeconds?': int('How long an Environment stays after its branch disappears (a force-push or a lost webhook may bring it back).', {
        default: 300,
        minimum: 0,
        maximum: 2_592_000,
      }),
      'protectedMayExpire?': bool('Let production and protected Environments expire by TTL too.', { default: false }),
      'protectedMaySleep?': bool('Let production and protected Environments sleep when idle too.', { default: false }),
    },
    { title: 'LifecycleSpec' },
  ),
  'policy?': obj(
    'Who may do what: rules checked before an Environment is created or applied. A denial shows as a condition with reason `PolicyDenied` and an audit event.',
    {
      'agentsGroup?': str('Kubernetes group of agents: its members cannot create or promote `type: production` Environments (enforced at admission).', { maxLength: 253 }),
      'agentBranches?': globList('branches an agent (a push with a `Grove-Agent` trailer) may get Environments for; all when empty'),
      'humanBranches?': globList('branches a push without a `Grove-Agent` trailer may get Environments for; all when empty'),
      'serviceTypes?': list(
        'Service types manifests may declare; all catalog types when empty.',
        oneOf(['postgresql', 'mariadb', 'mysql', 'redis'], 'A catalog service type, without version.'),
        { maxItems: 8, 'x-kubernetes-list-type': 'set' },
      ),
    },
    { title: 'PolicySpec' },
  ),
  'backupStoreRef?': localRef('The BackupStore that holds this Project\'s backups and audit trail.'),
  'network?': obj(
    'Network isolation of the environment namespaces.',
    {
      'egress?': egress('What pods may reach outside their namespace (besides DNS, and the BackupStore for mover pods), unless `egressByType` names their type. Deny-all by default.'),
      'egressByType?': obj(
        'Egress per environment type, overriding `egress`.',
        { 'development?': egress('Egress of development environments.'), 'staging?': egress('Egress of staging environments.'), 'production?': egress('Egress of production environments.') },
        { title: 'EgressByType' },
      ),
      'ingressNamespace?': dnsLabel('Namespace of the ingress controller, the only one allowed to reach environment pods from outside.'),
      'ingressClassName?': str('IngressClass of route Ingresses.', { maxLength: 253 }),
    },
    { title: 'NetworkSpec' },
  ),
  'serviceImages?': {
    type: 'object',
    description: 'Images of the service catalog by type, replacing the public defaults, e.g. `{postgresql: registry.internal/postgres}`; the version tag comes from the manifest.',
    additionalProperties: str('Image repository without a tag.', { maxLength: 512 }),
    maxProperties: 8,
    'x-kubernetes-validations': [{ rule: "self.all(k, k in ['postgresql', 'mariadb', 'mysql', 'redis'])", message: 'keys must be service types: postgresql, mariadb, mysql, redis' }],
  },
  'storageClassName?': str('StorageClass of every volume the environments claim; the cluster\'s default class when unset. Snapshot clones need a VolumeSnapshotClass of its driver.', {
    maxLength: 253,
  }),
  'domain?': str(
    'Template of route hosts, e.g. `{route}-{environment}.preview.example.com`. Placeholders: `{route}`, `{environment}`, `{project}`.',
    { maxLength: 253, pattern: '^[a-z0-9{}.-]+$' },
  ),
}, {
  'x-kubernetes-validations': [
    { rule: '!has(self.pullRequests) || has(self.gitHost)', message: 'pullRequests needs gitHost: pull requests are listed through the Git host\'s API' },
    { rule: '!has(self.rehearsals) || !has(self.rehearsals.label) || has(self.gitHost)', message: 'rehearsals.label needs gitHost: pull requests are listed through the Git host\'s API' },
  ],
});

const projectStatus = obj('Observed state of the Project.', {
  'conditions?': conditions,
  'observedGeneration?': observedGeneration,
  'lastSyncTime?': time('When the branches were last listed successfully.'),
  'branchCount?': int('Branches selected for Environments at the last sync.', { minimum: 0 }),
  'environmentCount?': int('Environments of this Project.', { minimum: 0 }),
  'denied?': list(
    'Branches and pull requests policy refused an Environment at the last sync, with the revision refused (the Git host is told, when `gitHost` is set).',
    obj(
      'One refusal.',
      {
        branch: str('The branch.', { maxLength: 255 }),
        'revision?': commitSha('Its head when it was refused.'),
        'rule?': str('The policy rule that refused it.', { maxLength: 100 }),
        message: str('Why, as the Admitted condition says it.', { maxLength: 2048 }),
      },
      { title: 'Denial' },
    ),
    { maxItems: 100, 'x-kubernetes-list-type': 'atomic' },
  ),
});

// ---------------------------------------------------------------------------------------------
// Environment

const pullRequestRef = (description: string): Schema =>
  obj(
    description,
    {
      number: int('Its number (GitLab: the merge request\'s iid).', { minimum: 1 }),
      'title?': str('Its title.', { maxLength: 256 }),
      'author?': str('Who opened it, as the Git host names them.', { maxLength: 253 }),
      'base?': str('The branch it would merge into.', { maxLength: 255 }),
    },
    { title: 'PullRequestRef' },
  );

const environmentSpec = obj(
  'One branch (or a clone made with kubectl) materialised as its own namespace.',
  {
    project: { ...dnsLabel('The Project this Environment belongs to.'), 'x-kubernetes-validations': [immutable('project')] },
    branch: branchName('The Git branch whose manifest is applied.', { 'x-kubernetes-validations': [immutable('branch')] }),
    'revision?': commitSha('The commit to apply. Set by Grove for Git-driven environments; kubectl users may pin it.'),
    'parent?': dnsLabel('The Environment whose data is cloned. Defaults to the production Environment.'),
    'type?': oneOf(['production', 'staging', 'development'], 'Selects per-type overrides and policy.', { default: 'development' }),
    'ttlSeconds?': ttlSeconds,
    'sleepAfterSeconds?': sleepAfterSeconds,
    'state?': oneOf(['active', 'sleeping'], 'Desired state; `sleeping` scales workloads to zero.', { default: 'active' }),
    'protected?': bool('Protected Environments are never deleted by TTL or branch cleanup.', { default: false }),
    'clone?': cloneStrategy,
    'pullRequest?': pullRequestRef('The pull request this Environment runs, for Environments Grove makes per pull request (`Project.spec.pullRequests`).'),
    // No default: absent is false, and every Environment's spec stays as its author wrote it.
    'suspendDeployHook?': bool('While true, the deploy hook of the revision waits (the workloads run); a Rehearsal holds it so the schema is read before the migration.'),
  },
  {
    'x-kubernetes-validations': [
      { rule: "!(has(self.type) && self.type == 'production' && has(self.parent))", message: 'a production environment has no parent: it is the source of data' },
      {
        rule: '!has(self.ttlSeconds) || !has(self.sleepAfterSeconds) || self.ttlSeconds == 0 || self.sleepAfterSeconds == 0 || self.sleepAfterSeconds < self.ttlSeconds',
        message: 'sleepAfterSeconds must be less than ttlSeconds',
      },
    ],
  },
);

const environmentStatus = obj('Observed state of the Environment.', {
  'conditions?': conditions,
  'observedGeneration?': observedGeneration,
  'observedRevision?': commitSha('The revision last applied.'),
  'namespace?': dnsLabel('The namespace the Environment runs in.'),
  'urls?': list(
    'Routes of the Environment.',
    obj('A route.', { name: str('Route name.', { maxLength: 253 }), url: str('URL.', { maxLength: 2048 }) }, { title: 'RouteURL' }),
    { maxItems: 64, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] },
  ),
  'inventory?': list(
    'The objects applied, so that what leaves the plan is pruned.',
    obj(
      'One applied object.',
      {
        id: str('`<namespace>_<name>_<group>_<kind>`, as Flux writes it.', { maxLength: 1024 }),
        v: str('API version.', { maxLength: 253 }),
      },
      { title: 'InventoryEntry' },
    ),
    { maxItems: 4096, 'x-kubernetes-list-type': 'atomic' },
  ),
  'lastActivityTime?': time('Last push, renewal or API call.'),
  'expiresAt?': time('When the Environment will be deleted for inactivity.'),
  'lastScheduledBackupTime?': time('The schedule slot of the last Backup made for the manifest\'s backup schedule.'),
  'lastRestore?': dnsLabel('The Restore whose Backup last filled the volumes.'),
  'pullRequest?': pullRequestRef('The pull request the Environment runs, as its spec names it.'),
  'typesHeld?': list('Every type the Environment has had. Its final backup follows all of them, so one that was production is backed up even when it was demoted before its deletion.', oneOf(['production', 'staging', 'development'], 'A type.'), {
    maxItems: 3,
    'x-kubernetes-list-type': 'set',
  }),
  'actor?': actor,
  'lineage?': lineage,
});

// ---------------------------------------------------------------------------------------------
// BackupStore

const backupStoreSpec = obj('S3-compatible object storage, separate from cluster volumes, that holds backups and the audit trail.', {
  s3: obj(
    'The bucket.',
    {
      endpoint: str('Endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or a MinIO server.', { pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
      bucket: str('Bucket name.', { minLength: 3, maxLength: 63, pattern: '^[a-z0-9][a-z0-9.-]*[a-z0-9]$' }),
      'prefix?': str('Key prefix inside the bucket.', { maxLength: 512, pattern: '^[^/][^\\x00]*$' }),
      'region?': str('Region.', { default: 'us-east-1', maxLength: 64 }),
      'forcePathStyle?': bool('Address the bucket by path (needed for most non-AWS servers).', { default: true }),
    },
    { title: 'S3Spec' },
  ),
  credentialsSecretRef: obj(
    'Secret with keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.',
    { name: str('Name of the Secret in the same namespace.', { minLength: 1, maxLength: 253 }) },
    { title: 'SecretRef' },
  ),
  resticPasswordSecretRef: secretKeyRef('ResticPasswordSecretRef', 'Secret holding the password of the restic repositories.', 'password'),
});

const backupStoreStatus = obj('Observed state of the BackupStore.', {
  'conditions?': conditions,
  'observedGeneration?': observedGeneration,
  'lastCheckedTime?': time('When access was last proven.'),
});

// ---------------------------------------------------------------------------------------------
// Backup

const backupSpec = obj(
  'One point-in-time copy of an Environment\'s volumes. Never owned by the Environment: it outlives it.',
  {
    project: dnsLabel('The Project, whose BackupStore and restic repository hold the data.'),
    environment: dnsLabel('The Environment backed up.'),
    'trigger?': oneOf(['manual', 'scheduled', 'final', 'clone', 'restore'], 'Why the backup was taken (`restore`: the data a Restore was about to replace).', { default: 'manual' }),
    'retentionSeconds?': int('How long the backup is kept after it completes; unset keeps it until deleted.', { minimum: 3600 }),
  },
  { 'x-kubernetes-validations': [immutable('spec')] },
);

const backupStatus = obj('Observed state of the Backup.', {
  'conditions?': conditions,
  'observedGeneration?': observedGeneration,
  'branch?': str('The branch of the Environment at backup time.', { maxLength: 255 }),
  'revision?': commitSha('The revision of the Environment at backup time.'),
  'startTime?': time('When the backup started.'),
  'completionTime?': time('When the backup completed.'),
  'expiresAt?': time('When the collector forgets and prunes this backup.'),
  'sizeBytes?': int('Bytes of data backed up.', { minimum: 0 }),
  'volumes?': list(
    'One entry per volume or database.',
    obj(
      'The backup of one volume.',
      {
        name: str('Volume or service name.', { maxLength: 253 }),
        kind: oneOf(['files', 'postgresql', 'mariadb', 'redis'], 'How the data was read.'),
        'snapshotId?': str('The restic snapshot ID.', { pattern: '^[0-9a-f]{8,64}$' }),
        'bytesAdded?': int('Bytes uploaded (new data after deduplication).', { minimum: 0 }),
        'bytesTotal?': int('Bytes read.', { minimum: 0 }),
        'files?': int('Files read.', { minimum: 0 }),
        'durationSeconds?': { type: 'number', description: 'Time taken.', minimum: 0 },
      },
      { title: 'VolumeBackup' },
    ),
    { maxItems: 64, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] },
  ),
  'lineage?': lineage,
});

// ---------------------------------------------------------------------------------------------
// Restore

const restoreSpec = obj(
  'Restores a Backup into an Environment: a new one by default.',
  {
    backup: dnsLabel('The Backup to restore.'),
    'targetEnvironment?': dnsLabel('The Environment to restore into. Defaults to a new Environment created for the backup\'s branch.'),
    'overwriteExisting?': bool('Allow restoring into an existing Environment, replacing its data once a Backup of that data has completed.', { default: false }),
  },
  { 'x-kubernetes-validations': [immutable('spec')] },
);

const restoreStatus = obj('Observed state of the Restore.', {
  'conditions?': conditions,
  'observedGeneration?': observedGeneration,
  'targetEnvironment?': dnsLabel('The Environment restored into.'),
  'startTime?': time('When the restore started.'),
  'safetyBackup?': dnsLabel('The Backup of the target\'s own data, taken before a restore over an existing Environment replaced it.'),
  'completionTime?': time('When the restore completed.'),
});

// ---------------------------------------------------------------------------------------------
// Rehearsal

const rehearsalSpec = obj(
  'Runs a branch\'s deploy hook against a fresh copy of its parent\'s current data, records what it did, and removes the copy.',
  {
    project: dnsLabel('The Project.'),
    branch: branchName('The branch whose revision is rehearsed.'),
    'revision?': commitSha('The commit to rehearse. Defaults to the branch\'s head when the Rehearsal starts.'),
    'parent?': dnsLabel('The Environment whose current data is cloned. Defaults to the production Environment.'),
    'pullRequest?': int('The pull request that asked for it, whose comment reports it.', { minimum: 1 }),
    'ttlSecondsAfterFinished?': int('How long the finished Rehearsal is kept, in seconds.', { minimum: 0, maximum: 31_536_000, default: 604_800 }),
  },
  { 'x-kubernetes-validations': [immutable('spec')] },
);

const schemaChange = obj(
  'The schema of one PostgreSQL service before and after the deploy hook.',
  {
    service: dnsLabel('The service.'),
    changed: bool('Whether the schema changed.'),
    'added?': int('Lines the hook added to the schema dump.', { minimum: 0 }),
    'removed?': int('Lines the hook removed from the schema dump.', { minimum: 0 }),
    'diff?': str('The difference, as a unified diff of `pg_dump --schema-only` (cut at 16 KiB).', { maxLength: 16_384 }),
  },
  { title: 'SchemaChange' },
);

const rehearsalStatus = obj('Observed state of the Rehearsal.', {
  'conditions?': conditions,
  'observedGeneration?': observedGeneration,
  'revision?': commitSha('The commit rehearsed.'),
  'parent?': dnsLabel('The Environment whose data was cloned.'),
  'environment?': dnsLabel('The short-lived Environment the hook ran in.'),
  'startTime?': time('When the Rehearsal started.'),
  'completionTime?': time('When it finished and its Environment was gone.'),
  'result?': obj('What the deploy hook did.', {
    succeeded: bool('Whether the deploy hook succeeded.'),
    'durationSeconds?': { type: 'number', minimum: 0, description: 'How long the deploy hook ran.' },
    'message?': str('What happened, in one line.', { maxLength: 1024 }),
    'output?': str('The failing hook\'s last output lines.', { maxLength: 4096 }),
    'schema?': list('Per PostgreSQL service, its schema before and after.', schemaChange, { maxItems: 32 }),
  }),
});

// ---------------------------------------------------------------------------------------------

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean' | 'number';
  jsonPath: string;
  priority?: number;
  description?: string;
}

export interface KindDefinition {
  kind: 'Project' | 'Environment' | 'BackupStore' | 'Backup' | 'Restore' | 'Rehearsal';
  plural: string;
  shortNames: string[];
  description: string;
  spec: Schema;
  status: Schema;
  /** CEL rules on the whole object, for invariants that involve metadata.name. */
  rules?: CelRule[];
  columns: readonly PrinterColumn[];
}

export const KINDS: readonly KindDefinition[] = [
  {
    kind: 'Project',
    plural: 'projects',
    shortNames: ['gproj'],
    description: 'A Git repository whose branches Grove turns into Environments.',
    spec: projectSpec,
    status: projectStatus,
    columns: [
      { name: 'Repo', type: 'string', jsonPath: '.spec.repo.url' },
      { name: 'Environments', type: 'integer', jsonPath: '.status.environmentCount' },
      ...readyColumns,
      { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime' },
      ageColumn,
    ],
  },
  {
    kind: 'Environment',
    plural: 'environments',
    shortNames: ['env', 'envs'],
    description: 'One branch materialised as an isolated namespace with its apps, services and cloned data.',
    spec: environmentSpec,
    status: environmentStatus,
    rules: [
      { rule: 'self.metadata.name.size() <= 63', message: 'metadata.name must be at most 63 characters' },
      { rule: '!has(self.spec.parent) || self.spec.parent != self.metadata.name', message: 'spec.parent must name another environment' },
    ],
    columns: [
      { name: 'Branch', type: 'string', jsonPath: '.spec.branch' },
      ...readyColumns,
      { name: 'URL', type: 'string', jsonPath: '.status.urls[0].url' },
      // A timestamp: kubectl shows a `date` column as an age, and `<invalid>` for any time to come.
      { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt', description: 'When the Environment expires (RFC 3339); `grove env ls` shows the time left.' },
      ageColumn,
      { name: 'Type', type: 'string', jsonPath: '.spec.type', priority: 1 },
      { name: 'Revision', type: 'string', jsonPath: '.status.observedRevision', priority: 1 },
      { name: 'Namespace', type: 'string', jsonPath: '.status.namespace', priority: 1 },
    ],
  },
  {
    kind: 'BackupStore',
    plural: 'backupstores',
    shortNames: ['bstore'],
    description: 'S3-compatible object storage for backups and the audit trail.',
    spec: backupStoreSpec,
    status: backupStoreStatus,
    columns: [
      { name: 'Endpoint', type: 'string', jsonPath: '.spec.s3.endpoint' },
      { name: 'Bucket', type: 'string', jsonPath: '.spec.s3.bucket' },
      ...readyColumns,
      ageColumn,
    ],
  },
  {
    kind: 'Backup',
    plural: 'backups',
    shortNames: ['gbak'],
    description: 'A point-in-time copy of an Environment\'s volumes in a BackupStore.',
    spec: backupSpec,
    status: backupStatus,
    columns: [
      { name: 'Environment', type: 'string', jsonPath: '.spec.environment' },
      ...readyColumns,
      { name: 'Size', type: 'integer', jsonPath: '.status.sizeBytes' },
      { name: 'Completed', type: 'date', jsonPath: '.status.completionTime' },
      { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt', description: 'When the Backup is forgotten (RFC 3339); `grove backup ls` shows the time left.' },
      ageColumn,
    ],
  },
  {
    kind: 'Restore',
    plural: 'restores',
    shortNames: ['grestore'],
    description: 'Restores a Backup into an Environment.',
    spec: restoreSpec,
    status: restoreStatus,
    columns: [
      { name: 'Backup', type: 'string', jsonPath: '.spec.backup' },
      { name: 'Target', type: 'string', jsonPath: '.status.targetEnvironment' },
      ...readyColumns,
      ageColumn,
    ],
  },
  {
    kind: 'Rehearsal',
    plural: 'rehearsals',
    shortNames: ['grehearsal'],
    description: 'A migration rehearsal: a branch\'s deploy hook run against a copy of its parent\'s current data.',
    spec: rehearsalSpec,
    status: rehearsalStatus,
    columns: [
      { name: 'Branch', type: 'string', jsonPath: '.spec.branch' },
      { name: 'Revision', type: 'string', jsonPath: '.status.revision' },
      { name: 'Succeeded', type: 'boolean', jsonPath: '.status.result.succeeded' },
      ...readyColumns,
      ageColumn,
    ],
  },
];

/** The CustomResourceDefinition object for one kind, as applied to the API server. */
export function customResourceDefinition(def: KindDefinition): Record<string, unknown> {
  const root: Schema = {
    type: 'object',
    description: def.description,
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion of the object.' },
      kind: { type: 'string', description: 'Kind of the object.' },
      metadata: { type: 'object' },
      spec: def.spec,
      status: def.status,
    },
    required: ['spec'],
    ...(def.rules ? { 'x-kubernetes-validations': def.rules } : {}),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'grove' } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        shortNames: def.shortNames,
        categories: ['grove'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
          schema: { openAPIV3Schema: stripTitles(root) },
        },
      ],
    },
  };
}

/** `title` only names generated TypeScript types; the API server has no use for it. */
function stripTitles(schema: Schema): Schema {
  const { title: _title, properties, items, additionalProperties, ...rest } = schema;
  return {
    ...rest,
    ...(properties ? { properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, stripTitles(v)])) } : {}),
    ...(items ? { items: stripTitles(items) } : {}),
    ...(additionalProperties !== undefined
      ? { additionalProperties: typeof additionalProperties === 'boolean' ? additionalProperties : stripTitles(additionalProperties) }
      : {}),
  };
}

