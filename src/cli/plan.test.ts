import { describe, expect, it } from 'vitest';
import type { BranchPlan } from '../preview/index.ts';
import { planText } from './plan.ts';

const plan: BranchPlan = {
  project: 'shop',
  branch: 'fix/login',
  revision: 'c'.repeat(40),
  environment: { name: 'shop-fix-login', namespace: 'team', type: 'development', parent: 'shop-main', targetNamespace: 'shop-fix-login', object: { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name: 'shop-fix-login' }, spec: { project: 'shop', branch: 'fix/login' } } },
  admitted: false,
  reason: 'PolicyDenied',
  message: 'branchNotAllowed: branch fix/login matches none of policy.agentBranches (agent/*) for agents',
  denials: [{ rule: 'branchNotAllowed', message: 'branch fix/login matches none of policy.agentBranches (agent/*) for agents' }],
  urls: [{ name: 'web', url: 'https://web-shop-fix-login.localhost' }],
  objects: [{ apiVersion: 'v1', kind: 'Namespace', name: 'shop-fix-login', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop-fix-login' } } }],
};

describe('planText', () => {
  it('says when a push makes nothing, apart from policy', () => {
    expect(planText({ ...plan, reason: 'NotSelected', message: 'branch fix/login matches none of branches.include', denials: [] })).toContain('\n# not made by a push: NotSelected: branch fix/login matches none of branches.include\n---\n');
  });

  it('says what the plan says as comments, then each object as a YAML document', () => {
    expect(planText(plan)).toBe(`# grove plan: branch fix/login of project shop (development) at ${'c'.repeat(40)}
# Environment shop-fix-login in namespace shop-fix-login; 1 objects
# data from: shop-main
# route web: https://web-shop-fix-login.localhost
# denied: branchNotAllowed: branch fix/login matches none of policy.agentBranches (agent/*) for agents
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop-fix-login
`);
  });
});
