import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from './webhooks.ts';

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
