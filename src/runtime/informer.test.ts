// The informer's recovery paths, driven by a scripted Kube whose watches can stall, fail or
// expire on command: a real API server cannot be made to stall on demand.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/index.ts';
import { KubeError, type Kube, type WatchEvent } from '../kube/index.ts';
import { silentLogger } from '../log/index.ts';
import { FakeClock } from './clock.ts';
import { Informer } from './informer.ts';

const cm = (name: string, rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv } });

class ScriptedKube {
  objects: KubeObject[] = [cm('a', '1')];
  listRv = '1';
  watches: Array<{ rv: string; emit: (e: WatchEvent) => void; end: () => void; fail: (err: Error) => void; signal: AbortSignal }> = [];
  listCalls = 0;
  asKube(): Kube {
    return {
      list: async () => {
        this.listCalls++;
        return { items: this.objects.map((o) => ({ ...o })), resourceVersion: this.listRv };
      },
      watch: (_v: string, _k: string, opts: { resourceVersion: string; signal?: AbortSignal }, onEvent: (e: WatchEvent) => void) =>
        new Promise<void>((resolve, reject) => {
          opts.signal?.addEventListener('abort', () => resolve());
          this.watches.push({ rv: opts.resourceVersion, emit: onEvent, end: resolve, fail: reject, signal: opts.signal! });
        }),
    } as unknown as Kube;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

function start(stallAfterMs = 60_000) {
  const fake = new ScriptedKube();
  const clock = new FakeClock();
  const changes: string[] = [];
  const informer = new Informer({
    kube: fake.asKube(),
    apiVersion: 'v1',
    kind: 'ConfigMap',
    clock,
    log: silentLogger(),
    stallAfterMs,
    random: () => 0.5,
    onChange: (key, _o, deleted) => changes.push(`${deleted ? '-' : '+'}${key}`),
  });
  informer.start();
  return { fake, clock, changes, informer };
}

describe('Informer recovery', () => {
  it('resumes from the last resourceVersion when the server ends a watch', async () => {
    const { fake, informer } = start();
    await settle();
    fake.watches[0]!.emit({ type: 'MODIFIED', object: cm('a', '5') });
    fake.watches[0]!.emit({ type: 'BOOKMARK', object: cm('', '7') });
    fake.watches[0]!.end();
    await settle();
    expect(fake.watches.map((w) => w.rv)).toEqual(['1', '7']);
    expect(fake.listCalls).toBe(1);
    informer.stop();
  });

  it('relists on 410 Gone and reports objects deleted in the meantime', async () => {
    const { fake, changes, informer } = start();
    await settle();
    fake.objects = [cm('b', '20')];
    fake.listRv = '20';
    fake.watches[0]!.emit({ type: 'ERROR', object: { code: 410, reason: 'Expired', message: 'too old resource version' } });
    await settle();
    expect(fake.listCalls).toBe(2);
    expect(changes).toEqual(['+ns/a', '+ns/b', '-ns/a']);
    expect(fake.watches.at(-1)!.rv).toBe('20');
    informer.stop();
  });

  it('restarts a stalled watch with a relist', async () => {
    const { fake, clock, informer } = start(60_000);
    await settle();
    clock.advance(59_000);
    await settle();
    expect(fake.watches[0]!.signal.aborted).toBe(false);
    clock.advance(16_000);
    await settle();
    expect(fake.watches[0]!.signal.aborted).toBe(true);
    expect(fake.listCalls).toBe(2);
    expect(fake.watches).toHaveLength(2);
    informer.stop();
  });

  it('backs off and relists after a failed watch', async () => {
    const { fake, clock, informer } = start();
    await settle();
    fake.watches[0]!.fail(new KubeError(0, undefined, 'connection reset'));
    await settle();
    expect(fake.listCalls).toBe(1);
    clock.advance(375); // 500 ms × (0.5 + 0.5 × 0.5)
    await settle();
    expect(fake.listCalls).toBe(2);
    expect(fake.watches).toHaveLength(2);
    informer.stop();
  });
});
