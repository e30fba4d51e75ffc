#!/usr/bin/env node
// Checks (or with --fix, applies) clang-format on every native source: part of `npm run lint`.
import { execFileSync } from 'node:child_process';

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'native'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => /\.(cpp|h|cu|cuh)$/.test(f));
const fix = process.argv.includes('--fix');
try {
  execFileSync('clang-format', fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files], { stdio: 'inherit' });
} catch (err) {
  if (err.code === 'ENOENT') {
    console.error('clang-format is not installed (apt-get install clang-format)');
  } else {
    console.error('clang-format: the files above are not formatted; run `npm run format`');
  }
  process.exit(1);
}
console.log(`clang-format: ${files.length} native files ${fix ? 'formatted' : 'clean'}`);
