/**
 * Verifies a webhook from GitHub (`X-Hub-Signature-256`), Gitea (`X-Gitea-Signature`), GitLab
 * (`X-Gitlab-Token`) or any sender of Grove's generic form (`X-Grove-Signature: sha256=<hex>`,
 * an HMAC-SHA256 of the body). Comparisons take constant time. Pure.
 *
 * A verified webhook only means "look now": its payload is never trusted for branch names or
 * revisions, which always come from listing the repository.
 *
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Push } from '../source/git/index.ts';

export type Verdict = { ok: true; provider: 'github' | 'gitea' | 'gitlab' | 'generic' } | { ok: false; reason: string };

export function verifyWebhook(headers: Record<string, string | string[] | undefined>, body: Buffer, secret: string): Verdict {
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const hmac = (): Buffer => createHmac('sha256', secret).update(body).digest();
  const hexMatches = (given: string | undefined): boolean => {
    if (!given || !/^[0-9a-fA-F]{64}$/.test(given)) return false;
    return timingSafeEqual(Buffer.from(given, 'hex'), hmac());
  };

  const github = header('x-hub-signature-256');
  if (github !== undefined) return hexMatches(github.replace(/^sha256=/, '')) ? { ok: true, provider: 'github' } : { ok: false, reason: 'signature mismatch' };
  const gitea = header('x-gitea-signature') ?? header('x-gogs-signature');
  if (gitea !== undefined) return hexMatches(gitea) ? { ok: true, provider: 'gitea' } : { ok: false, reason: 'signature mismatch' };
  const generic = header('x-grove-signature');
  if (generic !== undefined) return hexMatches(generic.replace(/^sha256=/, '')) ? { ok: true, provider: 'generic' } : { ok: false, reason: 'signature mismatch' };
  const gitlab = header('x-gitlab-token');
  if (gitlab !== undefined) {
    // Hash both sides so the comparison is constant-time whatever the token lengths.
    const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
    return timingSafeEqual(digest(gitlab), digest(secret)) ? { ok: true, provider: 'gitlab' } : { ok: false, reason: 'token mismatch' };
  }
  return { ok: false, reason: 'no signature header' };
}

/**
 * Who pushed which commit to which branch, from a verified push payload — attribution only: the
 * branch and revision are trusted only where a listing of the repository confirms them. Pure;
 * anything else (other events, tag pushes, odd payloads) is undefined.
 */
export function pushOf(provider: 'github' | 'gitea' | 'gitlab' | 'generic', body: Buffer): Push | undefined {
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const field = (obj: unknown, key: string): string | undefined => {
    const v = obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
    return typeof v === 'string' && v.length > 0 && v.length <= 253 ? v : undefined;
  };
  const ref = field(payload, 'ref');
  const revision = field(payload, 'after');
  if (!ref?.startsWith('refs/heads/') || !revision || !/^[0-9a-f]{40}$/.test(revision)) return undefined;
  const pusher =
    provider === 'gitlab'
      ? field(payload, 'user_username')
      : provider === 'gitea'
        ? (field(payload.pusher, 'login') ?? field(payload.pusher, 'username'))
        : provider === 'github'
          ? (field(payload.pusher, 'name') ?? field(payload.sender, 'login'))
          : (field(payload, 'pusher') ?? field(payload.pusher, 'name'));
  return pusher ? { branch: ref.slice('refs/heads/'.length), revision, pusher } : undefined;
}
