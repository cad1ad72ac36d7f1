import { describe, expect, it } from 'vitest';
import type { Rehearsal } from '../api/index.ts';
import { describeResult, rehearseCommand } from './rehearse.ts';

const io = () => ({ stdout: { write: () => true }, stderr: { write: () => true }, env: {} }) as unknown as Parameters<typeof rehearseCommand>[1];
const done = (result: NonNullable<Rehearsal['status']>['result']): Rehearsal => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Rehearsal', metadata: { name: 'r' }, spec: { project: 'shop', branch: 'b' }, status: { result } });

describe('grove rehearse', () => {
  it('prints the outcome, each schema difference and a failing hook\'s output', () => {
    expect(describeResult(done({ succeeded: true, durationSeconds: 2.04, schema: [{ service: 'db', changed: true, added: 1, removed: 0, diff: '@@\n+ALTER' }, { service: 'legacy', changed: false }] }))).toBe(
      'The migration succeeded in 2.0s.\nSchema of db (+1 −0 lines):\n@@\n+ALTER\nSchema of legacy: unchanged\n',
    );
    expect(describeResult(done({ succeeded: false, message: 'The deploy hook failed: boom', output: 'exit code 1: boom' }))).toBe('The migration failed: The deploy hook failed: boom\nOutput of the deploy hook:\nexit code 1: boom\n');
  });

  it('refuses a call without a project or with a revision that is not a commit', async () => {
    await expect(rehearseCommand(['agent/x'], io())).rejects.toThrow('rehearse needs --project');
    await expect(rehearseCommand(['agent/x', '--project', 'shop', '--revision', 'main'], io())).rejects.toThrow('--revision must be a full commit SHA (got "main")');
  });
});
