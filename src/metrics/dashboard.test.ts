// The chart's Grafana dashboard queries only metrics the operator exports, so a renamed metric
// cannot leave an empty panel behind.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './index.ts';

const dashboard = JSON.parse(readFileSync(new URL('../../charts/grove/dashboards/grove.json', import.meta.url), 'utf8')) as {
  uid: string;
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

describe('the Grafana dashboard', () => {
  it('queries only metrics the operator exports', async () => {
    const metrics = createMetrics();
    const exported = new Set<string>();
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      exported.add(m.name);
      if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${m.name}${suffix}`);
    }
    const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b[a-z_]+(?=\{)/g) ?? []));
    expect(queried.length).toBeGreaterThan(8);
    for (const name of queried) expect(exported, `${name} is not exported`).toContain(name);
    // Every Grove metric has a panel.
    for (const name of [...exported].filter((n) => n.startsWith('grove_') && !/_(sum|count)$/.test(n) && !n.endsWith('_seconds'))) expect(queried.join(' ')).toContain(name);
  });
});
