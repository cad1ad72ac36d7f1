/**
 * Grove's HTTP side: one server for health, metrics, the Git hosts' webhooks, the API for people
 * and agents (`api/`) and MCP over it.
 *
 * @module
 */
export { createHttpServer } from './server.ts';
