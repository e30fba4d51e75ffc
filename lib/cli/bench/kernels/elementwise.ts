// Memory-bound elementwise/layout kernels at ANN's feature-map sizes, and the batched-matmul
// path at 2048^3. Names match bench/torch/elementwise.py.
import { native, type NativeTensor } from '../../../native/index.js';
import { randomTensor, type BenchCase } from './harness.js';

function simple(name: string, shapes: number[][], op: (xs: NativeTensor[]) => NativeTensor[], cost: { flops?: number; bytes?: number }): BenchCase {
  return {
    name,
    ...cost,
    make() {
      const xs = shapes.map((s, i) => randomTensor(s, i + 1));
      return {
        run() {
          for (const t of op(xs)) t.dispose();
        },
        dispose() {
          for (const t of xs) t.dispose();
        },
      };
    },
  };
}

const F = [1, 512, 129, 129];
const MAP = 4 * 512 * 129 * 129; // bytes of one F map
export const benches: BenchCase[] = [
  simple('add [1,512,129,129]', [F, F], ([a, b]) => [native.add(a, b)], { bytes: 3 * MAP }),
  simple('relu fwd+bwd [1,512,129,129]', [F, F], ([x, dy]) => {
    const y = native.relu(x);
    return [y, native.reluBackward(dy, y)];
  }, { bytes: 5 * MAP }),
  simple('permute [1,256,8192]->[1,8192,256]', [[1, 256, 8192]], ([x]) => [native.permute(x, [0, 2, 1])], { bytes: 2 * 4 * 256 * 8192 }),
  simple('cat 2x[1,2048,65,65] axis 1', [[1, 2048, 65, 65], [1, 2048, 65, 65]], ([a, b]) => [native.cat([a, b], 1)], { bytes: 4 * 4 * 2048 * 65 * 65 }),
  simple('matmul 2048x2048x2048', [[2048, 2048], [2048, 2048]], ([a, b]) => [native.matmul(a, b)], { flops: 2 * 2048 ** 3 }),
];
