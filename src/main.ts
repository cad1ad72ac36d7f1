#!/usr/bin/env node
// The `grove` command. Wiring only: each command lives in src/cli/.
import { runCli } from './cli/index.ts';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
