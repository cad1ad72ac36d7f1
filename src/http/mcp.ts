/**
 * The MCP endpoint `/mcp` (Streamable HTTP, stateless): every API operation as a tool with the
 * JSON Schema of its arguments. A tool call is the same operation as over `/api/v1` — the same
 * Bearer token, the same RBAC check, the same handler — so what a token may do is what its RBAC
 * allows, whichever door an agent uses.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { messageOf } from '../errors/index.ts';
import { type ApiDeps, argumentsOf, asProblem, authenticateRequest, type Caller, inputSchemaOf, OPERATIONS, perform, rbacResource } from './api/index.ts';

export const MCP_PATH = '/mcp';

/** Serves one MCP request: authenticated first, then a fresh stateless server for it. */
export async function serveMcp(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let caller: Caller;
  try {
    caller = await authenticateRequest(deps, req);
  } catch (err) {
    const problem = asProblem(err);
    res.writeHead(problem.status, { 'content-type': 'application/json', ...problem.headers });
    res.end(`${JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: problem.message }, id: null })}\n`);
    return;
  }
  const server = mcpServer(deps, caller);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.once('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
}

function mcpServer(deps: ApiDeps, caller: Caller): Server {
  const server = new Server({ name: 'grove', version: '0.1.0' }, { capabilities: { tools: {} }, instructions: 'Grove turns Git branches into isolated Environments. Create one, wait for it, renew it while you work, delete it when done.' });
  server.setRequestHandler(ListToolsRequestSchema, () =>
    Promise.resolve({
      tools: OPERATIONS.map((op) => ({
        name: op.id,
        description: `${op.summary}. Needs RBAC ${op.verb} on ${rbacResource(op)} in the namespace.`,
        inputSchema: inputSchemaOf(op),
        annotations: { readOnlyHint: op.readOnly, destructiveHint: op.id === 'deleteEnvironment' },
      })),
    }),
  );
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const operation = OPERATIONS.find((op) => op.id === request.params.name);
    if (!operation) return { isError: true, content: [{ type: 'text', text: `no tool ${request.params.name}; list the tools to see them` }] };
    const args = (request.params.arguments ?? {});
    const names = argumentsOf(operation);
    const text = (key: string): string => (typeof args[key] === 'string' || typeof args[key] === 'number' ? String(args[key]) : '');
    const missing = names.path.filter((k) => !text(k));
    if (missing.length) return { isError: true, content: [{ type: 'text', text: `missing ${missing.join(', ')}` }] };
    const params = Object.fromEntries(names.path.map((k) => [k, text(k)]));
    const query = new URLSearchParams(names.query.filter((k) => args[k] !== undefined).map((k): [string, string] => [k, text(k)]));
    const body = Object.fromEntries(Object.entries(args).filter(([k]) => !names.path.includes(k) && !names.query.includes(k)));
    try {
      const reply = await perform(deps, { caller, match: { operation, params }, body, query });
      return { content: [{ type: 'text', text: JSON.stringify(reply.value) }], structuredContent: reply.value as Record<string, unknown> };
    } catch (err) {
      const problem = asProblem(err);
      if (problem.status >= 500) deps.log.error({ tool: operation.id, err: messageOf(err) }, 'MCP tool call failed');
      return { isError: true, content: [{ type: 'text', text: `${problem.status} ${problem.title}: ${problem.message}` }] };
    }
  });
  return server;
}
