import { describe, expect, it } from 'vitest';
import { GroveError } from '../errors/index.ts';
import { ApiCallError, apiClient, operationUrl, problemOf } from './api-client.ts';

describe('operationUrl', () => {
  it('fills the path from the operation table, keeps a server path prefix, and adds only given queries', () => {
    expect(operationUrl('https://grove.example.com/', 'waitEnvironment', { params: { namespace: 'team', name: 'shop-a' }, query: { timeoutSeconds: '5', other: undefined } }).href).toBe(
      'https://grove.example.com/api/v1/namespaces/team/environments/shop-a/wait?timeoutSeconds=5',
    );
    expect(operationUrl('https://example.com/grove', 'planBranch', { params: { namespace: 'team', project: 'shop' } }).href).toBe('https://example.com/grove/api/v1/namespaces/team/projects/shop/plan');
    expect(() => operationUrl('https://example.com', 'getEnvironment', { params: { namespace: 'team' } })).toThrow('getEnvironment needs name');
  });
});

describe('problemOf', () => {
  it('reads a problem document, with the manifest errors it lists', () => {
    const body = JSON.stringify({ title: 'Unprocessable Content', status: 422, detail: '1 error', errors: [{ file: 'platform.yaml', line: 3, column: 5, field: 'applications.web.port', message: 'must be an integer' }] });
    expect(problemOf(422, 'Unprocessable Entity', body)).toEqual({ status: 422, title: 'Unprocessable Content', detail: '1 error', errors: [{ file: 'platform.yaml', line: 3, column: 5, field: 'applications.web.port', message: 'must be an integer' }] });
  });

  it('makes one of whatever else came back', () => {
    expect(problemOf(502, 'Bad Gateway', '<html>upstream down</html>\n')).toEqual({ status: 502, title: 'Bad Gateway', detail: '<html>upstream down</html>' });
    expect(problemOf(500, 'Internal Server Error', '')).toMatchObject({ detail: 'no detail' });
  });
});

describe('apiClient', () => {
  const answering = (status: number, body: unknown, seen: Array<{ url: string; init: RequestInit | undefined }> = []): typeof fetch =>
    ((url: URL, init?: RequestInit) => {
      seen.push({ url: String(url), init });
      return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'content-type': status < 300 ? 'application/json' : 'application/problem+json' } }));
    }) as typeof fetch;

  it('sends the operation\'s method, the token and the body as JSON', async () => {
    const seen: Array<{ url: string; init: RequestInit | undefined }> = [];
    const call = apiClient('http://grove', 'tok', answering(200, { items: [] }, seen));
    expect(await call('planBranch', { params: { namespace: 'team', project: 'shop' }, body: { branch: 'main' } })).toEqual({ items: [] });
    expect(seen[0]?.init).toMatchObject({ method: 'POST', body: '{"branch":"main"}', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' } });
  });

  it('turns problems into errors: 404 reads as the object missing, 401 says where a token comes from', async () => {
    const missing = apiClient('http://grove', 'tok', answering(404, { title: 'Not Found', status: 404, detail: 'Environment x does not exist in namespace team' }));
    await expect(missing('getEnvironment', { params: { namespace: 'team', name: 'x' } })).rejects.toMatchObject({ code: 'NotFound', message: 'Environment x does not exist in namespace team' });
    const anonymous = apiClient('http://grove', undefined, answering(401, { title: 'Unauthorized', status: 401, detail: 'send a Kubernetes token' }));
    await expect(anonymous('listEnvironments', { params: { namespace: 'team' } })).rejects.toThrow('401 Unauthorized: send a Kubernetes token; pass --token or set GROVE_TOKEN');
    const forbidden = apiClient('http://grove', 'tok', answering(403, { title: 'Forbidden', status: 403, detail: 'u may not create environments in namespace team' }));
    const err = await forbidden('createEnvironment', { params: { namespace: 'team' }, body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiCallError);
    expect(err).toMatchObject({ code: 'Api', message: '403 Forbidden: u may not create environments in namespace team' });
  });

  it('says which server it could not reach', async () => {
    const down = apiClient('http://127.0.0.1:1', 'tok', (() => Promise.reject(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') }))));
    const err = await down('listEnvironments', { params: { namespace: 'team' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroveError);
    expect((err as Error).message).toBe('cannot reach the Grove API at http://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
  });
});
