#!/usr/bin/env node
// The `grove` command: the compiled program (`npm run build`, as in the image) when there is one,
// else, in a checkout, the TypeScript source itself, which Node 24 runs as it is.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/main.js', import.meta.url);
const source = new URL('../src/main.ts', import.meta.url);
const [major] = process.versions.node.split('.').map(Number);

if (existsSync(compiled)) await import(compiled.href);
else if (existsSync(source) && major >= 24) await import(source.href);
else {
  console.error(`grove: ${existsSync(source) ? `Node ${process.versions.node} cannot run the source; run \`npm run grove -- …\` (Node 24 from the project) or \`npm run build\` first` : 'dist/main.js is missing; run `npm run build` first'}`);
  process.exit(1);
}
