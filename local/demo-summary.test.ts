import { describe, expect, it } from 'vitest';
import type { Backup, Environment } from '../src/api/index.ts';
import { backupVolumesTable, demoSummary, lineageTable } from './demo-summary.ts';

const now = Date.parse('2026-12-01T12:00:00Z');
const ready = (reason = 'Ready') => [{ type: 'Ready', status: reason === 'Ready' ? 'True' : 'False', reason, message: '', lastTransitionTime: '2026-12-01T11:59:00Z' }];
const production: Environment = {
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name: 'shop-main', namespace: 'demo', creationTimestamp: '2026-12-01T11:58:00Z' },
  spec: { project: 'shop', branch: 'main', type: 'production' },
  status: { conditions: ready(), urls: [{ name: 'web', url: 'https://web-shop-main.localhost' }] },
} as Environment;
const lineage = [
  { volume: 'db', source: 'backup' as const, parent: 'shop-main', backup: 'shop-main-clone-202612011159', snapshotId: '7b5876d432f35b34', time: '2026-12-01T11:59:30Z' },
  { volume: 'web-uploads', source: 'backup' as const, parent: 'shop-main', backup: 'shop-main-clone-202612011159', snapshotId: '7a081a9d31a08555', time: '2026-12-01T11:59:30Z' },
];
const branch: Environment = {
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name: 'shop-demo-welcome-53023447', namespace: 'demo', creationTimestamp: '2026-12-01T11:59:00Z' },
  spec: { project: 'shop', branch: 'demo/welcome' },
  status: { conditions: ready(), lineage },
} as Environment;
const backup: Backup = {
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Backup',
  metadata: { name: 'shop-main-clone-202612011159', namespace: 'demo', creationTimestamp: '2026-12-01T11:59:10Z' },
  spec: { project: 'shop', environment: 'shop-main', trigger: 'clone' },
  status: {
    conditions: ready(),
    sizeBytes: 65_000,
    volumes: [
      { name: 'db', kind: 'postgresql', snapshotId: '7b5876d432f35b34', bytesTotal: 5200, bytesAdded: 5500, files: 1 },
      { name: 'web-uploads', kind: 'files', snapshotId: '7a081a9d31a08555', bytesTotal: 60_000, bytesAdded: 61_440, files: 3 },
    ],
  },
} as Backup;
const input = {
  namespace: 'demo',
  repoUrl: 'http://127.0.0.1:40911/shop.git',
  kubeconfig: '/state/admin.kubeconfig',
  kubectl: '/cache/kubectl',
  environments: [branch, production],
  branch,
  backup,
  checked: true,
  leftOut: [{ service: 'cache', reason: 'redis:7 cannot be backed up on this host' }],
  downCommand: 'npm run local -- down',
};

describe('the demo\'s summary', () => {
  it('shows each volume\'s source, parent, Backup and restic snapshot', () => {
    expect(lineageTable(lineage)).toBe(
      [
        'VOLUME       SOURCE  PARENT     FROM                                 SNAPSHOT  TAKEN',
        'db           backup  shop-main  Backup shop-main-clone-202612011159  7b5876d4  2026-12-01T11:59:30Z',
        'web-uploads  backup  shop-main  Backup shop-main-clone-202612011159  7a081a9d  2026-12-01T11:59:30Z',
        '',
      ].join('\n'),
    );
    expect(lineageTable([{ volume: 'db', source: 'snapshot', parent: 'shop-main', snapshot: 'clone-db-1' }, { volume: 'cache', source: 'empty' }])).toContain('VolumeSnapshot clone-db-1');
    expect(lineageTable([])).toBe('No lineage recorded.\n');
  });

  it('shows the Backup\'s volumes with their snapshots and sizes', () => {
    expect(backupVolumesTable(backup)).toBe(
      [
        'VOLUME       KIND        RESTIC SNAPSHOT   READ      ADDED     FILES',
        'db           postgresql  7b5876d432f35b34  5.1 KiB   5.4 KiB   1',
        'web-uploads  files       7a081a9d31a08555  58.6 KiB  60.0 KiB  3',
        '',
      ].join('\n'),
    );
  });

  it('lists the Environments, says what was left out, and tells how to push a branch and how to stop', () => {
    const text = demoSummary(input, now);
    expect(text).toContain('Environments in namespace demo (kubectl get environments -n demo):\n  NAME ');
    expect(text).toMatch(/ {2}shop-demo-welcome-53023447 +demo\/welcome +development +True +Ready/);
    expect(text).toContain('Where the data of shop-demo-welcome-53023447 (branch demo/welcome) came from (status.lineage):');
    expect(text).toContain('(restic check: no errors)');
    expect(text).toMatch(/ {2}shop-main-clone-202612011159 +shop-main +clone +True +63\.5KiB +2/);
    expect(text).toContain('Left out of examples/shop on this host:\n  cache: redis:7 cannot be backed up on this host\n');
    expect(text).toContain('  git clone http://127.0.0.1:40911/shop.git shop && cd shop\n');
    expect(text).toContain('  git push origin HEAD:feature/x\n');
    expect(text).toContain('  export KUBECONFIG=/state/admin.kubeconfig\n  /cache/kubectl get environments -n demo -w\n');
    expect(text.endsWith('Stop everything:\n  npm run local -- down\n')).toBe(true);
  });

  it('says nothing about left-out services or a check when there was none', () => {
    const text = demoSummary({ ...input, leftOut: [], checked: false }, now);
    expect(text).not.toContain('Left out');
    expect(text).not.toContain('restic check');
  });

  it('on tier D, tells where the branch\'s page answers and what it showed; on tier C, what was simulated', () => {
    const page = { url: 'http://127.0.0.1:38757/', customers: 5000, products: 400, uploads: 40, emails: ['customer-1@example.invalid', 'customer-2@example.invalid'] };
    const onNode = demoSummary({ ...input, tier: 'd', page }, now);
    expect(onNode).toContain("The branch's application, running on the node with production's data (sanitised: customer-1@example.invalid, customer-2@example.invalid):\n");
    expect(onNode).toContain('  5000 customers, 400 products, 40 uploads\n  Open http://127.0.0.1:38757/ (a kubectl port-forward to service/web, stopped by down)\n');
    expect(onNode).not.toContain('nothing really runs');
    const simulated = demoSummary({ ...input, tier: 'c' }, now);
    expect(simulated).toContain('On tier C nothing really runs: kwok marks the pods Ready');
    expect(simulated).not.toContain('Open http');
  });

  it('shows the commit status Grove posted to the Git host for the branch, when it has one', () => {
    const at = { ...branch, spec: { ...branch.spec, revision: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12' } } as Environment;
    const reported = { state: 'success', description: 'Environment shop-demo-welcome-53023447 is ready at https://web.example', targetUrl: 'https://web.example' };
    expect(demoSummary({ ...input, branch: at, reported }, now)).toContain(
      "What the Git host shows for demo/welcome at ab12cd34ef56 (Grove's commit status grove/shop-demo-welcome-53023447):\n  success: Environment shop-demo-welcome-53023447 is ready at https://web.example (https://web.example)\n",
    );
    expect(demoSummary(input, now)).not.toContain('What the Git host shows');
  });
});
