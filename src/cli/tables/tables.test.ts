import { describe, expect, it } from 'vitest';
import { backupTable } from './index.ts';

describe('grove backup ls table', () => {
  it('shows each Backup with its state, size, expiry and age', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    const done = {
      apiVersion: 'grove.dev/v1alpha1' as const,
      kind: 'Backup' as const,
      metadata: { name: 'shop-main-202611220300', creationTimestamp: '2026-11-22T03:00:00Z' },
      spec: { project: 'shop', environment: 'shop-main', trigger: 'scheduled' as const },
      status: { conditions: [{ type: 'Ready', status: 'True' as const, reason: 'Completed', message: '', lastTransitionTime: '' }], sizeBytes: 3 * 1024 * 1024, volumes: [{ name: 'db', kind: 'postgresql' as const }], expiresAt: '2026-12-06T03:00:00Z' },
    };
    const failed = { ...done, metadata: { name: 'hollow', creationTimestamp: '2026-11-22T11:59:30Z' }, spec: { ...done.spec, trigger: 'manual' as const }, status: { conditions: [{ ...done.status.conditions[0]!, status: 'False' as const, reason: 'BackupFailed' }] } };
    expect(backupTable([done, failed], now)).toBe(
      [
        'NAME                    ENVIRONMENT  TRIGGER    READY         SIZE    VOLUMES  EXPIRES  AGE',
        'shop-main-202611220300  shop-main    scheduled  True          3.0MiB  1        in 13d   9h',
        'hollow                  shop-main    manual     BackupFailed  -       -        -        30s',
        '',
      ].join('\n'),
    );
    expect(backupTable([], now)).toBe('No backups.\n');
  });
});
