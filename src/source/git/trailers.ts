/**
 * Commit trailers that attribute and steer an environment (DESIGN §4.1):
 *
 *     Grove-Agent: coder-7
 *     On-Behalf-Of: ada@example.com
 *     Grove-Task: SHOP-142
 *     Grove-TTL: 24h
 *     Grove-Parent: staging
 *     Grove-Rehearse: true        (rehearse this commit's migration on a copy of the parent's data)
 *
 * Only the last paragraph of the message is a trailer block, and only if every line in it is a
 * `Key: value` line (or a continuation), as git-interpret-trailers reads it. Pure.
 *
 * @module
 */
import { parseDuration } from '../../manifest/index.ts';

export interface Steering {
  agent?: string;
  onBehalfOf?: string;
  task?: string;
  ttlSeconds?: number;
  parent?: string;
  /** `Grove-Rehearse: true`: the commit asks for a migration rehearsal. */
  rehearse?: boolean;
  /** Trailers Grove recognised but could not use, in words. */
  problems: string[];
}

const KEYS: Record<string, 'agent' | 'onBehalfOf' | 'task' | 'ttl' | 'parent' | 'rehearse'> = {
  'grove-agent': 'agent',
  'on-behalf-of': 'onBehalfOf',
  'grove-task': 'task',
  'grove-ttl': 'ttl',
  'grove-parent': 'parent',
  'grove-rehearse': 'rehearse',
};

const MAX_VALUE = 253;

export function parseTrailers(message: string): Steering {
  const result: Steering = { problems: [] };
  const paragraphs = message.replace(/\r\n/g, '\n').trim().split(/\n\s*\n/);
  if (paragraphs.length < 2) return result; // a subject line alone has no trailers
  const block = (paragraphs.at(-1) ?? '').split('\n');
  const trailers: Array<[string, string]> = [];
  for (const line of block) {
    const match = /^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$/.exec(line);
    if (match) trailers.push([(match[1] as string).toLowerCase(), (match[2] as string).trim()]);
    else if (/^\s+\S/.test(line) && trailers.length > 0) {
      const last = trailers.at(-1) as [string, string];
      last[1] = `${last[1]} ${line.trim()}`;
    } else return result; // not a trailer block
  }
  for (const [key, value] of trailers) {
    const field = KEYS[key];
    if (!field || !value) continue;
    if (value.length > MAX_VALUE) {
      result.problems.push(`${key}: value longer than ${MAX_VALUE} characters`);
      continue;
    }
    if (field === 'ttl') {
      const seconds = parseDuration(value);
      if (seconds === undefined) result.problems.push(`Grove-TTL: "${value}" is not a duration such as 30m, 72h or 14d`);
      else result.ttlSeconds = seconds;
    } else if (field === 'parent') {
      if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) && value.length <= 63) result.parent = value;
      else result.problems.push(`Grove-Parent: "${value}" is not an environment name`);
    } else if (field === 'rehearse') {
      if (/^(true|yes)$/i.test(value)) result.rehearse = true;
      else if (!/^(false|no)$/i.test(value)) result.problems.push(`Grove-Rehearse: "${value}" is not true or false`);
    } else result[field] = value;
  }
  return result;
}
