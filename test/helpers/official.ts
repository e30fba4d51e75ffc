// The official ANN ResNet-101 (19 classes) state_dict listing: every key and shape, in order.
// test/reference/ann_r101_official_state_dict.txt is a copy of shared/reference's, committed so
// the tests need nothing outside the package.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../../lib/native/index.js';

export type OfficialEntry = [key: string, shape: number[]];

/** Every [key, shape] of the official state_dict, or those under `prefix` with it removed. */
export function officialStateDict(prefix = ''): OfficialEntry[] {
  const text = readFileSync(join(packageRoot(), 'test', 'reference', 'ann_r101_official_state_dict.txt'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() && line.startsWith(prefix))
    .map((line) => {
      const [key, shape] = line.split('\t');
      return [key.slice(prefix.length), shape.replace(/[(),]/g, ' ').trim().split(/\s+/).filter(Boolean).map(Number)];
    });
}
