// Writes the files generated from the schemas in src/api/crds.ts and src/manifest/schema.ts. `--check` only reports stale files.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generatedFiles } from '../src/codegen/index.ts';

const check = process.argv.includes('--check');
let stale = 0;
for (const [path, contents] of generatedFiles()) {
  const current = await readFile(path, 'utf8').catch(() => '');
  if (current === contents) continue;
  stale++;
  if (check) console.error(`${path} is stale: run npm run generate`);
  else {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, contents);
    console.log(`Wrote ${path}`);
  }
}
if (check && stale > 0) process.exit(1);
