/**
 * The upstream binaries of the local cluster, pinned. Each is built from the Go module proxy once
 * and cached by component, version and Go version (see `build.ts`).
 *
 * @module
 */

/** Tiers of the local cluster (DESIGN §6). Each includes everything of the tiers before it. */
export type Tier = 'a' | 'b' | 'c' | 'd';
export const TIERS: readonly Tier[] = ['a', 'b', 'c', 'd'];

export function parseTier(value: string): Tier {
  const tier = value.toLowerCase();
  if ((TIERS as readonly string[]).includes(tier)) return tier as Tier;
  throw new Error(`tier must be one of ${TIERS.join(', ')} (got "${value}")`);
}

export function tierIncludes(running: Tier, needed: Tier): boolean {
  return TIERS.indexOf(needed) <= TIERS.indexOf(running);
}

export const KUBERNETES_VERSION = 'v1.36.4';

export type Recipe =
  /**
   * A main package of k8s.io/kubernetes or its module graph, built in one wrapper module whose
   * replace lines pin every staging module to its published tag (k8s.io/kubernetes cannot be
   * `go install`ed: its go.mod replaces staging modules with local paths). Kubernetes binaries
   * are version-stamped so `/version` tells the truth.
   */
  | { kind: 'kubernetes'; pkg: string; module?: string; stamp: boolean }
  /**
   * `go install module/pkg@version`: the module has no replace directives. With `replace`, built
   * in a wrapper module of its own that requires it and replaces those dependencies instead, for
   * a release whose go.mod names a version the module proxy does not serve.
   */
  | { kind: 'install'; module: string; pkg: string; replace?: Readonly<Record<string, string>> }
  /**
   * A main package of a kubernetes-csi module, required at the component's version. Their go.mod
   * files have replace directives too, so they are built in a second wrapper module, apart from the
   * Kubernetes one so neither graph upgrades the other's dependencies.
   */
  | { kind: 'csi'; module: string; pkg: string }
  /**
   * A Go program of Grove's own in `local/<dir>`, built in the CSI wrapper module so it speaks
   * the CSI spec the sidecars speak — or, with `requires`, in a module of its own that requires
   * just those modules. Its cache entry is keyed by a digest of its source too.
   */
  | { kind: 'source'; dir: string; requires?: Readonly<Record<string, string>> }
  /**
   * A module built as the main module, in a copy of the source `go mod download` fetched: its
   * own go.mod and go.sum decide every dependency, replace lines included, and a module path the
   * proxy does not serve (Gitea 1.27's go.mod says gitea.dev; it is published as
   * code.gitea.io/gitea) does not matter. `dirs` of the source go next to the binary (what a
   * program reads at run time, such as Gitea's templates); `ldflags` are added to `-s -w`.
   */
  | { kind: 'main-module'; module: string; pkg: string; ldflags?: string; dirs?: readonly string[] };

export interface Component {
  name: string;
  version: string;
  /** The first tier that runs it. */
  tier: Tier;
  recipe: Recipe;
  /** Files copied from the module's source next to the binary (kwok's stages, the snapshot CRDs). */
  files?: readonly string[];
  /** The module `files` come from, at the component's version, when it is not the recipe's. */
  filesModule?: string;
}

/** snapshot-controller and csi-snapshotter come from one module, so they have one version. */
const SNAPSHOTTER_VERSION = 'v8.6.0';

export const COMPONENTS: readonly Component[] = [
  { name: 'etcd', version: 'v3.6.8', tier: 'a', recipe: { kind: 'kubernetes', pkg: 'go.etcd.io/etcd/server/v3', module: 'go.etcd.io/etcd/server/v3', stamp: false } },
  { name: 'kube-apiserver', version: KUBERNETES_VERSION, tier: 'a', recipe: { kind: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', stamp: true } },
  {
    name: 'kube-controller-manager',
    version: KUBERNETES_VERSION,
    tier: 'b',
    recipe: { kind: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager', stamp: true },
  },
  // kubectl matching the server, for people and for tests of what `kubectl` shows.
  { name: 'kubectl', version: KUBERNETES_VERSION, tier: 'a', recipe: { kind: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kubectl', stamp: true } },
  { name: 'kube-scheduler', version: KUBERNETES_VERSION, tier: 'b', recipe: { kind: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler', stamp: true } },
  {
    name: 'kwok',
    version: 'v0.8.0',
    tier: 'b',
    recipe: { kind: 'install', module: 'sigs.k8s.io/kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
    files: [
      'kustomize/stage/node/fast/node-initialize.yaml',
      'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
      'kustomize/stage/pod/fast/pod-ready.yaml',
      'kustomize/stage/pod/fast/pod-complete.yaml',
      'kustomize/stage/pod/fast/pod-delete.yaml',
      'kustomize/stage/volume/fast/pvc-provision.yaml',
      'kustomize/stage/volume/fast/pv-bind.yaml',
      'kustomize/stage/volume/fast/pv-delete.yaml',
      'kustomize/stage/volume/fast/pvc-delete.yaml',
      'kustomize/stage/volume/fast/storage-class.yaml',
    ],
  },
  {
    // The community edition is distributed as source only; the pseudo-version pins the last commit.
    name: 'minio',
    version: 'v0.0.0-20260212201848-7aac2a2c5b7c',
    tier: 'c',
    recipe: { kind: 'install', module: 'github.com/minio/minio', pkg: 'github.com/minio/minio' },
  },
  // Upstream's csi-driver-host-path is not served by the Go module proxy here, so the local cluster
  // runs its own controller-only hostpath driver; the sidecars and the snapshot CRDs are upstream's.
  { name: 'csi-hostpath', version: 'v0.1.0', tier: 'c', recipe: { kind: 'source', dir: 'csi-hostpath' } },
  // kstatus's verdict (cli-utils' status.Compute) on Grove's objects, for the tests of their conditions.
  { name: 'kstatus', version: 'v0.1.0', tier: 'c', recipe: { kind: 'source', dir: 'kstatus', requires: { 'sigs.k8s.io/cli-utils': 'v0.37.2' } } },
  {
    name: 'csi-provisioner',
    version: 'v6.3.0',
    tier: 'c',
    recipe: { kind: 'csi', module: 'github.com/kubernetes-csi/external-provisioner/v6', pkg: 'github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner' },
  },
  {
    name: 'snapshot-controller',
    version: SNAPSHOTTER_VERSION,
    tier: 'c',
    recipe: { kind: 'csi', module: 'github.com/kubernetes-csi/external-snapshotter/v8', pkg: 'github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller' },
    // The CRDs live in the client module, which the main module's zip leaves out.
    filesModule: 'github.com/kubernetes-csi/external-snapshotter/client/v8',
    files: [
      'config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml',
      'config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml',
      'config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml',
    ],
  },
  {
    name: 'csi-snapshotter',
    version: SNAPSHOTTER_VERSION,
    tier: 'c',
    recipe: { kind: 'csi', module: 'github.com/kubernetes-csi/external-snapshotter/v8', pkg: 'github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter' },
  },
  // The Git host of the local cluster: a real Gitea, whose push and pull-request webhooks drive
  // Grove and to which Grove reports commit statuses and pull-request comments. Its database is
  // SQLite (the pure-Go driver Gitea uses by default), in the cluster's state directory.
  {
    name: 'gitea',
    version: 'v1.27.3',
    tier: 'c',
    recipe: { kind: 'main-module', module: 'code.gitea.io/gitea', pkg: '.', ldflags: '-X main.Version=1.27.3', dirs: ['templates', 'options', 'public'] },
  },
  // The Helm chart's tests lint, render and install it with the release platform teams use.
  { name: 'helm', version: 'v4.2.4', tier: 'c', recipe: { kind: 'install', module: 'helm.sh/helm/v4', pkg: 'helm.sh/helm/v4/cmd/helm' } },
  // Tier D's real node. containerd, runc and the CNI plugins are Debian packages (see node.ts).
  { name: 'kubelet', version: KUBERNETES_VERSION, tier: 'd', recipe: { kind: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kubelet', stamp: true } },
  { name: 'kube-proxy', version: KUBERNETES_VERSION, tier: 'd', recipe: { kind: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-proxy', stamp: true } },
  // Runs as a pod (kube-system/coredns) so the Environments' allow-dns policy admits it by label.
  { name: 'coredns', version: 'v1.15.0', tier: 'd', recipe: { kind: 'install', module: 'github.com/coredns/coredns', pkg: 'github.com/coredns/coredns' } },
  // The NetworkPolicy enforcer: kube-network-policies needs the nftables queue expression, which
  // this kernel lacks; kube-router's iptables and ipset firewall works. v2.1.0, the only version
  // the proxy lists, has published security flaws; v2.10.0 is served by exact version, but the
  // netlink pseudo-version its go.mod names is not, so netlink's latest release stands in.
  {
    name: 'kube-router',
    version: 'v2.10.0',
    tier: 'd',
    recipe: {
      kind: 'install',
      module: 'github.com/cloudnativelabs/kube-router/v2',
      pkg: 'github.com/cloudnativelabs/kube-router/v2/cmd/kube-router',
      replace: { 'github.com/vishvananda/netlink': 'v1.3.1' },
    },
  },
];

export function component(name: string): Component {
  const found = COMPONENTS.find((c) => c.name === name);
  if (!found) throw new Error(`unknown component ${name}`);
  return found;
}

export function componentsForTier(tier: Tier): Component[] {
  return COMPONENTS.filter((c) => tierIncludes(tier, c.tier));
}

/** `-ldflags` that stamp a Kubernetes binary's version, as hack/lib/version.sh does. */
export function versionLdflags(version: string): string {
  const match = /^v(\d+)\.(\d+)\.\d+$/.exec(version);
  if (!match) throw new Error(`not a release version: ${version}`);
  const [, major, minor] = match;
  const flags: string[] = [];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.gitCommit=0000000000000000000000000000000000000000`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  }
  return flags.join(' ');
}
