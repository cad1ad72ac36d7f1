/**
 * Leader election on a coordination.k8s.io Lease, with client-go's LeaseLock semantics and
 * defaults (lease 15 s, renew deadline 10 s, retry every 2 s).
 *
 * Writes are conditional on the Lease's resourceVersion, so two candidates can never both win a
 * round. Expiry of another holder's lease is judged from when this process last saw the record
 * change, by its own clock, never by comparing the holder's timestamps with ours: clock skew
 * between machines cannot make two leaders.
 *
 * A leader that cannot renew within the renew deadline reports the loss and must stop writing;
 * the operator exits, as controller-runtime does, and a restart campaigns again.
 *
 * @module
 */
import type { KubeObject } from '../api/index.ts';
import { messageOf } from '../errors/index.ts';
import { isConflict, type Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import { microTime } from '../util/index.ts';
import type { Cancel, Clock } from './clock.ts';

export interface LeaderElectionOptions {
  kube: Kube;
  clock: Clock;
  log: Logger;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading'>> & LeaderElectionOptions;
  #leading = false;
  #stopped = false;
  #timer: Cancel | undefined;
  /** The record last seen and when (by our clock) it last changed. */
  #observed: { holder?: string; renewTime?: string; resourceVersion?: string } = {};
  #observedAt = 0;
  #lastRenew = 0;

  constructor(opts: LeaderElectionOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    void this.#tick();
  }

  /** Stops campaigning; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.();
    if (this.#leading) {
      this.#leading = false;
      await this.#release().catch((err: unknown) => this.#o.log.warn({ err: messageOf(err) }, 'Could not release the lease'));
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    let renewed = false;
    try {
      renewed = await this.#tryAcquireOrRenew(now);
    } catch (err) {
      this.#o.log.warn({ err: messageOf(err) }, 'Leader election round failed');
    }
    if (this.#stopped) return;
    if (renewed) {
      this.#lastRenew = now;
      if (!this.#leading) {
        this.#leading = true;
        this.#o.log.info({ lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity }, 'Became the leader');
        this.#o.onStartedLeading();
      }
    } else if (this.#leading && now - this.#lastRenew >= this.#o.renewDeadlineMs) {
      this.#leading = false;
      this.#stopped = true;
      this.#o.log.error({ lease: `${this.#o.namespace}/${this.#o.name}` }, 'Lost leadership: could not renew the lease in time');
      this.#o.onStoppedLeading();
      return;
    }
    this.#timer = this.#o.clock.after(this.#o.retryPeriodMs, () => void this.#tick());
  }

  /** One round; true when this candidate holds the lease afterwards. */
  async #tryAcquireOrRenew(now: number): Promise<boolean> {
    const { kube, namespace, name, identity } = this.#o;
    const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name };
    const lease = await kube.get<Lease>(ref);
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await kube.create<Lease>({ ...ref, metadata: { name, namespace }, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } });
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // another candidate created it first
        throw err;
      }
    }
    const current = { holder: lease.spec.holderIdentity, renewTime: lease.spec.renewTime, resourceVersion: lease.metadata.resourceVersion };
    if (current.holder !== this.#observed.holder || current.renewTime !== this.#observed.renewTime) {
      this.#observed = current;
      this.#observedAt = now;
    }
    const held = current.holder !== undefined && current.holder !== '' && current.holder !== identity;
    const durationMs = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
    if (held && this.#observedAt + durationMs > now) return false;

    const next: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        ...(current.holder === identity
          ? {}
          : { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      const written = await kube.replace(next);
      this.#observed = { holder: identity, renewTime: written.spec.renewTime, resourceVersion: written.metadata.resourceVersion };
      this.#observedAt = now;
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first; look again next round
      throw err;
    }
  }

  async #release(): Promise<void> {
    const { kube, namespace, name, identity } = this.#o;
    const lease = await kube.get<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name });
    if (lease?.spec.holderIdentity !== identity) return;
    await kube.replace<Lease>({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.#o.clock.now()) } });
  }
}
