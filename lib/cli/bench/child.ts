// Measurements that read memory high-water marks (native peakBytes, max RSS) run in a fresh Node
// process each, so that one case's peak is not an earlier, larger case's.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { packageRoot } from '../../native/index.js';

/** The child's command: compiled JS runs under plain node; the TypeScript source (tests, tsx) through tsx. */
function childCommand(entry: string): string[] {
  const self = fileURLToPath(import.meta.url);
  const ts = self.endsWith('.ts');
  const child = self.replace(/child\.(ts|js)$/, `${entry}.${ts ? 'ts' : 'js'}`);
  return ts ? ['--import', 'tsx', child] : [child];
}

/** Runs ./<entry> with the payload as JSON in argv[2]; its last stdout line is the JSON result. */
export function runChild<T>(entry: string, payload: unknown, what: string): T {
  const text = execFileSync(process.execPath, [...childCommand(entry), JSON.stringify(payload)], {
    // tsx resolves from the package root; the child's errors go straight to our stderr.
    cwd: packageRoot(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  const line = text.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what} printed no measurement: ${text.slice(-500)}`);
  }
}
