/**
 * The admission policies shipped with the CRDs: CEL the API server itself evaluates, so they hold
 * for every client — kubectl, agents with API access, Grove's own controllers — and even while
 * the operator is down. `npm run generate` renders them to `admission/`.
 *
 * - `grove.dev-protect-environments`: a production or protected Environment is deleted only when
 *   it carries `grove.dev/confirm-delete` equal to its name, which only a holder of the `confirm`
 *   verb on it may set; demoting, unprotecting, shortening its TTL, re-parenting it or skipping
 *   its final backup need that verb too.
 * - `grove.dev-protect-restores`: a Restore over a production or protected Environment
 *   (`overwriteExisting`) needs the `confirm` verb on it too.
 * - `grove.dev-secret-references`: whoever makes a Project or BackupStore name a Secret, or
 *   moves the URL a named Secret is sent to, must be able to `get` that Secret.
 * - `grove.dev-environment-policy`: the `ttlSeconds` bounds of the Environment's Project
 *   (`limits.minTtlSeconds`/`maxTtlSeconds`); members of the Project's `policy.agentsGroup`
 *   cannot create or promote `type: production`; `grove.dev/requested-by` never changes. The
 *   Project is the policy's parameter: every Project in the request's namespace is evaluated,
 *   and each rule applies only where `params` is the Environment's own Project.
 * - `grove.dev-lockdown` and the Project's `spec.lockdown` (in `environment-policy`): the kill
 *   switch; while engaged, Environments other than production are neither created nor changed.
 * - `grove.dev-environment-isolation`: in Environment namespaces, NetworkPolicies, ResourceQuotas
 *   and LimitRanges are changed by Grove alone, not by the agent holding `admin` there.
 * - `grove.dev-record-requester` (mutating): stamps `grove.dev/requested-by` with the requesting
 *   Kubernetes user on the create of an Environment, Backup or Restore, overwriting whatever the client sent. Recording the user at
 *   admission, rather than in Grove's HTTP API, attributes Environments made with plain kubectl
 *   too, and cannot be forged by a client. The one exception is the operator itself, when it
 *   relays the caller of Grove's HTTP API in that very annotation: it is the only client the
 *   API server cannot tell apart from its callers.
 * - `…-operator-namespaces` (the Helm chart's): the operator may update or
 *   delete only namespaces Grove made, and bind roles only inside them. Its cluster-wide right
 *   to create RoleBindings (it makes Environment namespaces) must never reach `kube-system`.
 *
 * @module
 */
import { ANNOTATIONS, LABELS, LOCKDOWN_CONFIGMAP } from './constants.ts';
import { GROUP } from './crds.ts';
import type { KubeObject } from './meta.ts';

const ADMISSION = 'admissionregistration.k8s.io/v1';
const matching = (resources: string[], operations: string[]) => ({ resourceRules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations, resources }] });
const environments = (operations: string[]) => matching(['environments'], operations);
const labels = { 'app.kubernetes.io/part-of': 'grove' };

/** `annotations[key]` of `obj` (a CEL expression), or '' when absent. */
const annotation = (obj: string, key: string): string => `(has(${obj}.metadata.annotations) && '${key}' in ${obj}.metadata.annotations ? ${obj}.metadata.annotations['${key}'] : '')`;

const wasProduction = "(has(oldObject.spec.type) && oldObject.spec.type == 'production')";
const wasProtected = '(has(oldObject.spec.protected) && oldObject.spec.protected)';

/**
 * What guards production and protected Environments. Every change that could lose them or their
 * data needs the `confirm` verb on that Environment (RBAC: `verbs: [confirm]` on
 * `environments.grove.dev`), which Grove's project-admin role holds and its agent role does not:
 * demoting, unprotecting, shortening the TTL, re-parenting, skipping the final backup, and the
 * confirmation of deletion itself. Deletion stays two steps for everyone (a confirmer annotates,
 * then anyone allowed to delete may), so a slip of `kubectl delete` never removes production, and
 * the Project controller can still delete a confirmed Environment whose branch went away.
 */
function protectEnvironments(policy: string): KubeObject & Record<string, unknown> {
  const confirmDelete = (obj: string) => annotation(obj, ANNOTATIONS.confirmDelete);
  const skip = (obj: string) => annotation(obj, ANNOTATIONS.skipFinalBackup);
  const updating = (condition: string, change: string) => ({
    expression: `request.operation != 'UPDATE' || !(${condition}) || variables.mayConfirm`,
    messageExpression: `'${change} of ' + variables.what + ' Environment ' + oldObject.metadata.name + ' needs the confirm right on it (verb confirm on environments.${GROUP} in namespace ' + oldObject.metadata.namespace + '), which the admins of the Project hold and its agents do not'`,
    reason: 'Forbidden',
  });
  return {
    apiVersion: ADMISSION,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: policy, labels },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: environments(['UPDATE', 'DELETE']),
      variables: [
        { name: 'guarded', expression: `${wasProduction} || ${wasProtected}` },
        { name: 'what', expression: `${wasProduction} ? 'production' : 'protected'` },
        // Evaluated only where a rule needs it: one authorization check, for guarded changes alone.
        { name: 'mayConfirm', expression: `authorizer.group('${GROUP}').resource('environments').namespace(oldObject.metadata.namespace).name(oldObject.metadata.name).check('confirm').allowed()` },
      ],
      validations: [
        {
          expression: `request.operation != 'DELETE' || !variables.guarded || ${confirmDelete('oldObject')} == oldObject.metadata.name`,
          messageExpression: `'Environment ' + oldObject.metadata.name + ' is ' + variables.what + ': it is deleted only after someone with the confirm right on it (verb confirm on environments.${GROUP}, which the admins of the Project hold) confirms by setting ${ANNOTATIONS.confirmDelete}=' + oldObject.metadata.name`,
          reason: 'Forbidden',
        },
        updating(`variables.guarded && ${confirmDelete('object')} != '' && ${confirmDelete('object')} != ${confirmDelete('oldObject')}`, `Confirming the deletion (${ANNOTATIONS.confirmDelete})`),
        updating(`variables.guarded && ${skip('object')} == 'true' && ${skip('oldObject')} != 'true'`, `Skipping the final backup (${ANNOTATIONS.skipFinalBackup})`),
        updating(`${wasProduction} && (!has(object.spec.type) || object.spec.type != 'production')`, 'Changing spec.type'),
        updating(`${wasProtected} && (!has(object.spec.protected) || !object.spec.protected)`, 'Turning off spec.protected'),
        updating(
          'variables.guarded && has(object.spec.ttlSeconds) && object.spec.ttlSeconds > 0 && (!has(oldObject.spec.ttlSeconds) || oldObject.spec.ttlSeconds == 0 || object.spec.ttlSeconds < oldObject.spec.ttlSeconds)',
          'Shortening spec.ttlSeconds',
        ),
        updating("variables.guarded && (has(object.spec.parent) ? object.spec.parent : '') != (has(oldObject.spec.parent) ? oldObject.spec.parent : '')", 'Changing spec.parent'),
      ],
    },
  };
}

/**
 * A Restore with `overwriteExisting` replaces the data of the Environment it targets: into a
 * production or protected one, only a holder of the `confirm` verb on that Environment may ask
 * for it. The Restore alone does not say what its target is, so the Environments of its
 * namespace are the policy's parameters, and the rule applies where `params` is the target.
 * (The spec of a Restore never changes, so creation is the one request to check.) The operator,
 * which writes Restores for callers of Grove's HTTP API, checks their right itself.
 */
function protectRestores(policy: string, operator: string | undefined): Array<KubeObject & Record<string, unknown>> {
  const production = "(has(params.spec.type) && params.spec.type == 'production')";
  return [
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: policy, labels },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: `${GROUP}/v1alpha1`, kind: 'Environment' },
        matchConstraints: matching(['restores'], ['CREATE']),
        ...(operator ? { matchConditions: [{ name: 'not-relayed-by-the-operator', expression: `request.userInfo.username != ${cel(operator)}` }] } : {}),
        variables: [
          { name: 'target', expression: 'has(object.spec.targetEnvironment) ? object.spec.targetEnvironment : object.metadata.name' },
          { name: 'overwrites', expression: `has(object.spec.overwriteExisting) && object.spec.overwriteExisting && params.metadata.name == variables.target && (${production} || (has(params.spec.protected) && params.spec.protected))` },
        ],
        validations: [
          {
            expression: `!variables.overwrites || authorizer.group('${GROUP}').resource('environments').namespace(object.metadata.namespace).name(variables.target).check('confirm').allowed()`,
            messageExpression: `'Restoring over the data (spec.overwriteExisting of Restore ' + object.metadata.name + ') of ' + (${production} ? 'production' : 'protected') + ' Environment ' + variables.target + ' needs the confirm right on it (verb confirm on environments.${GROUP} in namespace ' + object.metadata.namespace + '), which the admins of the Project hold and its agents do not'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: policy, labels },
      spec: { policyName: policy, validationActions: ['Deny'], paramRef: { selector: {}, parameterNotFoundAction: 'Allow' } },
    },
  ];
}

/**
 * Where a Grove kind names Secrets (a path under `spec` to a `{ name }` reference) and, for
 * those whose values Grove sends somewhere, the field that says where.
 */
const SECRET_REFERENCES: Record<'projects' | 'backupstores', Array<{ ref: string[]; sentTo?: string[][] }>> = {
  projects: [
    { ref: ['repo', 'secretRef'], sentTo: [['repo', 'url']] },
    { ref: ['webhook', 'secretRef'] },
    // The host's API is at gitHost.apiUrl, or where the repository URL says.
    { ref: ['gitHost', 'secretRef'], sentTo: [['repo', 'url'], ['gitHost', 'apiUrl']] },
  ],
  backupstores: [
    { ref: ['credentialsSecretRef'], sentTo: [['s3', 'endpoint']] },
    { ref: ['resticPasswordSecretRef'], sentTo: [['s3', 'endpoint']] },
  ],
};

/**
 * Whoever makes a Project or BackupStore name a Secret, or send a named Secret somewhere new,
 * must be able to read that Secret: Grove sends a named Secret's values to the URL the object
 * gives, so without this check naming a Secret, or moving the URL of an object that names one,
 * would be a way to read it. Other writes (the operator's annotations, an edit of any other
 * field) never need the right.
 */
function secretReferences(policy: string): KubeObject & Record<string, unknown> {
  const field = (obj: string, path: string[]): string => `${obj}.spec.${path.join('.')}`;
  const present = (obj: string, path: string[]): string => path.map((_, i) => `has(${field(obj, path.slice(0, i + 1))})`).join(' && ');
  const same = (path: string[], suffix = ''): string => `${present('oldObject', path)} && ${field('oldObject', path)}${suffix} == ${field('object', path)}${suffix}`;
  // An optional field is unchanged when it is absent from both, or present in both and equal.
  const sameOrAbsent = (path: string[]): string => `((${present('oldObject', path)}) ? (${present('object', path)}) && ${field('oldObject', path)} == ${field('object', path)} : !(${present('object', path)}))`;
  const validations = Object.entries(SECRET_REFERENCES).flatMap(([resource, refs]) =>
    refs.map(({ ref, sentTo }) => {
      const name = `${field('object', ref)}.name`;
      const unchanged = `request.operation == 'UPDATE' && ${same(ref, '.name')}${(sentTo ?? []).map((to) => ` && ${sameOrAbsent(to)}`).join('')}`;
      const readable = `authorizer.group('').resource('secrets').namespace(object.metadata.namespace).name(${name}).check('get').allowed()`;
      const target = sentTo?.[0] ? field('object', sentTo[0]) : '';
      const what = sentTo ? `' would send Secret ' + ${name} + ' (spec.${ref.join('.')}) to ' + ${target} + ', but you may not read that Secret` : `' names Secret ' + ${name} + ' in spec.${ref.join('.')}, which you may not read`;
      return {
        expression: `request.resource.resource != '${resource}' || !(${present('object', ref)}) || (${unchanged}) || ${readable}`,
        messageExpression: `request.kind.kind + ' ' + object.metadata.name + ${what} (verb get on secrets in namespace ' + object.metadata.namespace + '): an object may name only Secrets its author can read'`,
        reason: 'Forbidden',
      };
    }),
  );
  return {
    apiVersion: ADMISSION,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: policy, labels },
    spec: { failurePolicy: 'Fail', matchConstraints: matching(Object.keys(SECRET_REFERENCES), ['CREATE', 'UPDATE']), validations },
  };
}

export interface AdmissionOptions {
  /** Name prefix of every policy and binding (default `grove.dev`). */
  prefix?: string;
  /** The operator's Kubernetes username: it may relay its API callers as the requester. */
  operator?: string;
  /**
   * Confine the operator to Grove's namespaces (the Helm chart, where it is a ServiceAccount of
   * its own). Not for an operator running as a cluster admin, whose other work it would block.
   */
  guardNamespaces?: boolean;
  /** The operator's own namespace, which holds the operator-wide kill switch (default `grove-system`). */
  home?: string;
}

/** The admission policies, as objects to apply. Pure. */
export function admissionPolicies(opts: AdmissionOptions = {}): Array<KubeObject & Record<string, unknown>> {
  const prefix = opts.prefix ?? 'grove.dev';
  const name = (policy: string): string => `${prefix}-${policy}`;
  const operator = opts.operator;
  const requestedBy = annotation('object', ANNOTATIONS.requestedBy);
  return [
    protectEnvironments(name('protect-environments')),
    { apiVersion: ADMISSION, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: name('protect-environments'), labels }, spec: { policyName: name('protect-environments'), validationActions: ['Deny'] } },
    secretReferences(name('secret-references')),
    { apiVersion: ADMISSION, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: name('secret-references'), labels }, spec: { policyName: name('secret-references'), validationActions: ['Deny'] } },
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: name('environment-policy'), labels },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: `${GROUP}/v1alpha1`, kind: 'Project' },
        matchConstraints: environments(['CREATE', 'UPDATE']),
        variables: [
          { name: 'mine', expression: 'params.metadata.name == object.spec.project' },
          { name: 'mayConfirm', expression: mayConfirmObject },
          // Only a change of the TTL is checked: tightening a Project's bounds never blocks other writes to existing Environments.
          { name: 'ttlChanged', expression: "has(object.spec.ttlSeconds) && (request.operation == 'CREATE' || !has(oldObject.spec.ttlSeconds) || oldObject.spec.ttlSeconds != object.spec.ttlSeconds)" },
        ],
        validations: [
          {
            expression: '!variables.mine || !variables.ttlChanged || !has(params.spec.limits) || !has(params.spec.limits.maxTtlSeconds) || (object.spec.ttlSeconds > 0 && object.spec.ttlSeconds <= params.spec.limits.maxTtlSeconds)',
            messageExpression: "'spec.ttlSeconds must be between 1 and ' + string(params.spec.limits.maxTtlSeconds) + ' (limits.maxTtlSeconds of Project ' + params.metadata.name + ')'",
            reason: 'Invalid',
          },
          {
            expression: '!variables.mine || !variables.ttlChanged || !has(params.spec.limits) || !has(params.spec.limits.minTtlSeconds) || object.spec.ttlSeconds == 0 || object.spec.ttlSeconds >= params.spec.limits.minTtlSeconds',
            messageExpression: "'spec.ttlSeconds must be at least ' + string(params.spec.limits.minTtlSeconds) + ' (limits.minTtlSeconds of Project ' + params.metadata.name + ')'",
            reason: 'Invalid',
          },
          {
            expression:
              "!variables.mine || !has(params.spec.policy) || !has(params.spec.policy.agentsGroup) || !(params.spec.policy.agentsGroup in request.userInfo.groups) || !has(object.spec.type) || object.spec.type != 'production' || (request.operation == 'UPDATE' && has(oldObject.spec.type) && oldObject.spec.type == 'production')",
            messageExpression: "'members of ' + params.spec.policy.agentsGroup + ' cannot create or promote a production Environment (policy.agentsGroup of Project ' + params.metadata.name + ')'",
            reason: 'Forbidden',
          },
          {
            expression: `!variables.mine || !has(params.spec.lockdown) || !params.spec.lockdown || ${lockdownExempt}`,
            messageExpression: "'Project ' + params.metadata.name + ' is locked down (spec.lockdown): its Environments other than production are neither created nor changed until it is lifted, except by someone with the confirm right on them'",
            reason: 'Forbidden',
          },
          {
            expression: `request.operation != 'UPDATE' || ${annotation('oldObject', ANNOTATIONS.requestedBy)} == '' || ${annotation('object', ANNOTATIONS.requestedBy)} == ${annotation('oldObject', ANNOTATIONS.requestedBy)}`,
            message: `${ANNOTATIONS.requestedBy} is recorded at creation and cannot change`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: name('environment-policy'), labels },
      spec: { policyName: name('environment-policy'), validationActions: ['Deny'], paramRef: { selector: {}, parameterNotFoundAction: 'Allow' } },
    },
    {
      apiVersion: ADMISSION,
      kind: 'MutatingAdmissionPolicy',
      metadata: { name: name('record-requester'), labels },
      spec: {
        failurePolicy: 'Fail',
        reinvocationPolicy: 'Never',
        matchConstraints: matching(['environments', 'backups', 'restores', 'rehearsals'], ['CREATE']),
        ...(operator ? { matchConditions: [{ name: 'not-relayed-by-the-operator', expression: `!(request.userInfo.username == ${cel(operator)} && ${requestedBy} != '')` }] } : {}),
        mutations: [
          {
            patchType: 'ApplyConfiguration',
            applyConfiguration: { expression: `Object{metadata: Object.metadata{annotations: {"${ANNOTATIONS.requestedBy}": request.userInfo.username}}}` },
          },
        ],
      },
    },
    { apiVersion: ADMISSION, kind: 'MutatingAdmissionPolicyBinding', metadata: { name: name('record-requester'), labels }, spec: { policyName: name('record-requester') } },
    ...protectRestores(name('protect-restores'), operator),
    ...lockdownPolicy(name('lockdown'), opts.home ?? 'grove-system'),
    ...isolationGuard(name('environment-isolation')),
    ...(operator && opts.guardNamespaces ? namespaceGuard(name('operator-namespaces'), operator) : []),
  ];
}

/** A production Environment (and not being made one from another type), or one being deleted: what a lockdown leaves alone. */
const lockdownExempt =
  "(has(object.spec.type) && object.spec.type == 'production' && (request.operation == 'CREATE' || (has(oldObject.spec.type) && oldObject.spec.type == 'production'))) || has(object.metadata.deletionTimestamp) || variables.mayConfirm";
const mayConfirmObject = `authorizer.group('${GROUP}').resource('environments').namespace(object.metadata.namespace).name(object.metadata.name).check('confirm').allowed()`;

/**
 * The operator-wide kill switch, held by the API server: while the ConfigMap grove-lockdown in
 * the operator's namespace says `engaged: "true"`, no Environment but production ones is
 * created or changed, by Grove or anyone, except by a holder of the confirm right on it.
 */
function lockdownPolicy(name: string, home: string): Array<KubeObject & Record<string, unknown>> {
  return [
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
        matchConstraints: environments(['CREATE', 'UPDATE']),
        variables: [{ name: 'mayConfirm', expression: mayConfirmObject }],
        validations: [
          {
            expression: `!has(params.data) || !('engaged' in params.data) || params.data.engaged != 'true' || ${lockdownExempt}`,
            messageExpression: `'Grove is locked down (ConfigMap ${LOCKDOWN_CONFIGMAP} in namespace ' + params.metadata.namespace + (has(params.data) && 'reason' in params.data ? ': ' + params.data.reason : '') + '): Environments other than production are neither created nor changed until it is lifted, except by someone with the confirm right on them'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels },
      spec: { policyName: name, validationActions: ['Deny'], paramRef: { name: LOCKDOWN_CONFIGMAP, namespace: home, parameterNotFoundAction: 'Allow' } },
    },
  ];
}

/**
 * An agent holds `admin` in its Environment's namespace, and `admin` may write NetworkPolicies:
 * one allow-all policy of its own would undo the default-deny Grove planned, since policies only
 * ever add. So in Environment namespaces the isolation objects — NetworkPolicies, the
 * ResourceQuota and LimitRange — are Grove's alone: only someone who may write Environments'
 * status in the owning project namespace (the operator; cluster admins) changes them, and the
 * namespace controller still empties a namespace being deleted.
 */
function isolationGuard(name: string): Array<KubeObject & Record<string, unknown>> {
  const owner = `namespaceObject.metadata.labels['${LABELS.environmentNamespace}']`;
  const rule = (apiGroup: string, resources: string[]) => ({ apiGroups: [apiGroup], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources });
  return [
    {
      apiVersion: ADMISSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          namespaceSelector: { matchLabels: { [LABELS.managedBy]: 'grove' }, matchExpressions: [{ key: LABELS.environmentNamespace, operator: 'Exists' }] },
          resourceRules: [rule('networking.k8s.io', ['networkpolicies']), rule('', ['resourcequotas', 'limitranges'])],
        },
        validations: [
          {
            expression: `has(namespaceObject.metadata.deletionTimestamp) || authorizer.group('${GROUP}').resource('environments').subresource('status').namespace(${owner}).check('update').allowed()`,
            messageExpression: `'the ' + request.resource.resource + ' of Environment namespace ' + request.namespace + ' are its isolation, which only Grove changes (it plans them from the Project and platform.yaml; egress is set by spec.network.egress of the Project)'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    { apiVersion: ADMISSION, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name, labels }, spec: { policyName: name, validationActions: ['Deny'] } },
  ];
}

const managed = (obj: string): string => `(has(${obj}.metadata.labels) && '${LABELS.managedBy}' in ${obj}.metadata.labels && ${obj}.metadata.labels['${LABELS.managedBy}'] == 'grove')`;

function namespaceGuard(name: string, operator: string): Array<KubeObject & Record<string, unknown>> {
  const rule = (apiGroup: string, resource: string) => ({ apiGroups: [apiGroup], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: [resource] });
  return [
      {
        apiVersion: ADMISSION,
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name, labels },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [rule('', 'namespaces'), rule('rbac.authorization.k8s.io', 'rolebindings')] },
          matchConditions: [{ name: 'the-operator', expression: `request.userInfo.username == ${cel(operator)}` }],
          validations: [
            {
              expression: `request.resource.resource != 'namespaces' || (request.operation == 'CREATE' ? ${managed('object')} : ${managed('oldObject')} && (request.operation == 'DELETE' || ${managed('object')}))`,
              messageExpression: `'the Grove operator may only change namespaces labelled ${LABELS.managedBy}=grove, and ' + (request.operation == 'DELETE' ? oldObject : object).metadata.name + ' is not one'`,
              reason: 'Forbidden',
            },
            {
              expression: `request.resource.resource != 'rolebindings' || ${managed('namespaceObject')}`,
              messageExpression: `'the Grove operator may only bind roles in namespaces labelled ${LABELS.managedBy}=grove, and ' + request.namespace + ' is not one'`,
              reason: 'Forbidden',
            },
          ],
        },
      },
      { apiVersion: ADMISSION, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name, labels }, spec: { policyName: name, validationActions: ['Deny'] } },
  ];
}

/** A CEL string literal. Helm template expressions inside it stay intact for the chart to fill. */
function cel(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
