import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pushOf, verifyWebhook } from './webhooks.ts';

const body = Buffer.from('{"ref":"refs/heads/main"}');
const secret = 'webhook-secret';
const hex = createHmac('sha256', secret).update(body).digest('hex');

describe('verifyWebhook', () => {
  it.each([
    ['github', { 'x-hub-signature-256': `sha256=${hex}` }],
    ['gitea', { 'x-gitea-signature': hex }],
    ['gitea', { 'x-gogs-signature': hex }],
    ['gitlab', { 'x-gitlab-token': secret }],
    ['generic', { 'x-grove-signature': `sha256=${hex}` }],
  ])('accepts a correct %s signature', (provider, headers) => {
    expect(verifyWebhook(headers, body, secret)).toEqual({ ok: true, provider });
  });

  it.each([
    [{ 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, 'signature mismatch'],
    [{ 'x-hub-signature-256': `sha256=${hex.slice(0, 10)}` }, 'signature mismatch'],
    [{ 'x-hub-signature-256': 'not hex at all' }, 'signature mismatch'],
    [{ 'x-gitea-signature': createHmac('sha256', 'other').update(body).digest('hex') }, 'signature mismatch'],
    [{ 'x-gitlab-token': 'guess' }, 'token mismatch'],
    [{}, 'no signature header'],
  ])('rejects %j', (headers, reason) => {
    expect(verifyWebhook(headers, body, secret)).toEqual({ ok: false, reason });
  });

  it('rejects a correct signature over a different body', () => {
    expect(verifyWebhook({ 'x-hub-signature-256': `sha256=${hex}` }, Buffer.from('{"ref":"refs/heads/evil"}'), secret).ok).toBe(false);
  });
});

describe('pushOf', () => {
  const sha = 'a'.repeat(40);
  const body = (payload: unknown) => Buffer.from(JSON.stringify(payload));
  it.each([
    ['github', { ref: 'refs/heads/feature/x', after: sha, pusher: { name: 'ada' }, sender: { login: 'ada-gh' } }, 'ada'],
    ['github', { ref: 'refs/heads/feature/x', after: sha, sender: { login: 'ada-gh' } }, 'ada-gh'],
    ['gitea', { ref: 'refs/heads/feature/x', after: sha, pusher: { login: 'ada' } }, 'ada'],
    ['gitlab', { ref: 'refs/heads/feature/x', after: sha, user_username: 'ada' }, 'ada'],
    ['generic', { ref: 'refs/heads/feature/x', after: sha, pusher: 'ada' }, 'ada'],
  ] as const)('reads the pusher of a %s push', (provider, payload, pusher) => {
    expect(pushOf(provider, body(payload))).toEqual({ branch: 'feature/x', revision: sha, pusher });
  });

  it.each([
    ['a tag push', { ref: 'refs/tags/v1', after: sha, pusher: { name: 'ada' } }],
    ['a revision that is not a commit id', { ref: 'refs/heads/x', after: 'HEAD', pusher: { name: 'ada' } }],
    ['no pusher', { ref: 'refs/heads/x', after: sha }],
    ['a pusher that is not a string', { ref: 'refs/heads/x', after: sha, pusher: { name: 42 } }],
  ])('ignores %s', (_t, payload) => expect(pushOf('github', body(payload))).toBeUndefined());

  it('ignores a body that is not JSON', () => expect(pushOf('github', Buffer.from('ref=x'))).toBeUndefined());
});
