#!/usr/bin/env node
// The `ann-seg` command: runs the compiled CLI (dist/), built by `npm run build:ts`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/lib/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('ann-seg: the TypeScript is not compiled yet; run `npm run build:ts` in the package folder.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
