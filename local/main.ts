#!/usr/bin/env node
// The local cluster's command (`npm run local -- <up|down|status|demo|build>`): development
// tooling, kept out of the product's `src/`. Wiring only; the commands live in cli.ts.
import { runLocal } from './cli.ts';

process.exitCode = await runLocal(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
