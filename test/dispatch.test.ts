// The dispatch list (native/napi/dispatch.h, ANN_KERNELS) must name every kernel the family headers
// declare: a kernel left out would have no CUDA twin, and its binding could not dispatch it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/native/index.js';

const FAMILIES = ['attention', 'conv', 'elementwise', 'interp', 'loss', 'norm', 'optim', 'pool'];
// Shape arithmetic, run on the host for both devices (include/ann/cuda.h says so).
const HOST_ONLY = new Set(['pool_output_size', 'pyramid_total', 'broadcast_shapes']);

/** Names of the functions a header declares at namespace scope (members are indented; skipped). */
function declared(header: string): string[] {
  const text = readFileSync(join(packageRoot(), 'native/include/ann', `${header}.h`), 'utf8');
  const names: string[] = [];
  for (const line of text.split('\n')) {
    if (/^(\s|\/\/|#|namespace|struct|enum|constexpr|inline|using|template|}|$)/.test(line)) continue;
    const m = /^[\w:<>,* ]+?[\s*&]([a-z_0-9]+)\(/.exec(line);
    if (m) names.push(m[1]);
  }
  return names;
}

describe('the CUDA dispatch list', () => {
  const source = readFileSync(join(packageRoot(), 'native/napi/dispatch.h'), 'utf8');
  const block = source.slice(source.indexOf('#define ANN_KERNELS(X)'), source.indexOf('// clang-format on'));
  const listed = [...block.matchAll(/X\((\w+)\)/g)].map((m) => m[1]);

  it('names every kernel of the family headers once, and nothing else', () => {
    const kernels = FAMILIES.flatMap(declared).filter((n) => !HOST_ONLY.has(n));
    expect(kernels.length).toBeGreaterThan(30);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...kernels].sort());
  });
});
