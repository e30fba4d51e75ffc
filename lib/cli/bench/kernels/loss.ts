// The losses at ANN's training size: 19-class logits upsampled to a 769 crop, batch 2, with 10%
// of the labels ignored (255). Names match bench/torch/loss.py.
import { native, type NativeTensor } from '../../../native/index.js';
import { randomTensor, type BenchCase } from './harness.js';
import { nativeFromArray, nativeFull } from '../../../tensor.js';

const SHAPE = [2, 19, 769, 769];
const PIXELS = 2 * 769 * 769;

function labels(): NativeTensor {
  let s = 12345;
  const t = new Int32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    t[i] = (s >>> 8) % 10 === 0 ? 255 : (s >>> 12) % 19;
  }
  return nativeFromArray(t, [2, 769, 769]);
}

function lossCase(name: string, run: (x: NativeTensor, t: NativeTensor, dy: NativeTensor) => NativeTensor[]): BenchCase {
  return {
    name,
    make() {
      // uniform(-4, 4): OHEM then keeps a mix of pixels rather than all or none.
      const x = randomTensor(SHAPE, 1, 4);
      const dy = randomTensor(SHAPE, 2);
      const t = labels();
      return {
        run() {
          for (const o of run(x, t, dy)) o.dispose();
        },
        dispose() {
          for (const o of [x, dy, t]) o.dispose();
        },
      };
    },
  };
}

const one = () => nativeFull([], 1);

export const benches: BenchCase[] = [
  lossCase('softmax axis=1 fwd 2x19x769x769', (x) => [native.softmax(x, { axis: 1 })]),
  lossCase('softmax axis=1 fwd+bwd 2x19x769x769', (x, _t, dy) => {
    const y = native.softmax(x, { axis: 1 });
    return [y, native.softmaxBackward(dy, y, { axis: 1 })];
  }),
  lossCase('crossEntropy ignore=255 fwd+bwd 2x19x769x769', (x, t) => {
    const o = { ignoreIndex: 255 };
    const g = one();
    return [native.crossEntropy(x, t, o).loss, g, native.crossEntropyBackward(g, x, t, o)];
  }),
  // The backward is handed the forward's selection, as the autograd op does.
  lossCase('ohemCrossEntropy fwd+bwd 2x19x769x769', (x, t) => {
    const r = native.ohemCrossEntropy(x, t);
    const g = one();
    return [r.loss, r.kept, g, native.ohemCrossEntropyBackward(g, x, t, { threshold: r.threshold, kept: r.kept })];
  }),
  lossCase('argmax axis=1 2x19x769x769', (x) => [native.argmax(x, { axis: 1 })]),
];
