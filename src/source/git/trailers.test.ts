import { describe, expect, it } from 'vitest';
import { parseTrailers } from './trailers.ts';

describe('parseTrailers', () => {
  it('reads attribution and steering from the last paragraph', () => {
    const message = [
      'Add the login page',
      '',
      'The form posts to /session.',
      '',
      'Grove-Agent: coder-7',
      'On-Behalf-Of: ada@example.com',
      'grove-task: SHOP-142',
      'Grove-TTL: 24h',
      'Grove-Parent: staging',
      'Signed-off-by: Ada <ada@example.com>',
    ].join('\n');
    expect(parseTrailers(message)).toEqual({
      agent: 'coder-7',
      onBehalfOf: 'ada@example.com',
      task: 'SHOP-142',
      ttlSeconds: 86400,
      parent: 'staging',
      problems: [],
    });
  });

  it('ignores Key: value lines that are not in a trailer block', () => {
    expect(parseTrailers('Grove-Agent: x')).toEqual({ problems: [] });
    expect(parseTrailers('Subject\n\nGrove-Agent: x\nthis line is prose\n')).toEqual({ problems: [] });
    expect(parseTrailers('Subject\n\nGrove-Agent: x\n\nA closing paragraph of prose.')).toEqual({ problems: [] });
  });

  it('reads a request for a migration rehearsal, and refuses a value that is neither true nor false', () => {
    expect(parseTrailers('Add loyalty points\n\nGrove-Rehearse: true').rehearse).toBe(true);
    expect(parseTrailers('Add loyalty points\n\nGrove-Rehearse: no')).toEqual({ problems: [] });
    expect(parseTrailers('Add loyalty points\n\nGrove-Rehearse: please')).toEqual({ problems: ['Grove-Rehearse: "please" is not true or false'] });
  });

  it('joins continuation lines', () => {
    expect(parseTrailers('Subject\n\nGrove-Task: SHOP-142\n  and SHOP-143').task).toBe('SHOP-142 and SHOP-143');
  });

  it('reports values it cannot use instead of dropping them silently', () => {
    const steering = parseTrailers('Subject\n\nGrove-TTL: three days\nGrove-Parent: Not A Name');
    expect(steering.ttlSeconds).toBeUndefined();
    expect(steering.parent).toBeUndefined();
    expect(steering.problems).toEqual(['Grove-TTL: "three days" is not a duration such as 30m, 72h or 14d', 'Grove-Parent: "Not A Name" is not an environment name']);
  });

  it('handles CRLF line ends', () => {
    expect(parseTrailers('Subject\r\n\r\nGrove-Agent: bot\r\n').agent).toBe('bot');
  });
});
