// Native results a test file makes are disposed after its tests, so a failing assertion leaks nothing.
import { afterAll } from 'vitest';

import type { NativeTensor } from '../../lib/native/index.js';

/** Returns keep(t): registers t for disposal after this file's tests (afterAll) and returns it. */
export function disposeAfterAll(): <T extends NativeTensor>(t: T) => T {
  const made: NativeTensor[] = [];
  afterAll(() => {
    for (const t of made) if (!t.isDisposed) t.dispose();
  });
  return (t) => {
    made.push(t);
    return t;
  };
}
