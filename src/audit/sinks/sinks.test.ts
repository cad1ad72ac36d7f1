import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../index.ts';
import { fanOut, streamSink } from './index.ts';
import { silentLogger } from '../../log/index.ts';

const event: AuditEvent = {
  id: 'abc',
  time: '2026-06-01T12:00:00.000Z',
  actor: { agent: 'coder-7' },
  source: 'push',
  action: 'create',
  object: { kind: 'Environment', namespace: 'team', name: 'shop-a' },
  project: 'shop',
  decision: 'allowed',
  result: 'succeeded',
};

describe('streamSink', () => {
  it('writes each event as one JSON line marked as the audit stream', async () => {
    const lines: string[] = [];
    const sink = streamSink({ write: (chunk: string) => void lines.push(chunk) });
    await sink.record(event);
    await sink.record({ ...event, id: 'def' });
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({ level: 'info', stream: 'audit', ...event });
  });
});

describe('fanOut', () => {
  it('gives every sink the event, even when one fails', async () => {
    const got: string[] = [];
    const sink = fanOut(silentLogger(), [
      { record: () => Promise.reject(new Error('store down')) },
      { record: (e) => Promise.resolve(void got.push(e.id)) },
    ]);
    await expect(sink.record(event)).resolves.toBeUndefined();
    expect(got).toEqual(['abc']);
  });
});
