// ANN's logit upsampling: 19-class logits at 1/8 of a 769 crop, bilinear with align_corners=True,
// forward and backward. Names match bench/torch/interp.py.
import { native, type NativeTensor } from '../../../native/index.js';
import { randomTensor, type BenchCase } from './harness.js';

function interpCase(name: string, shape: number[], size: [number, number], backward: boolean): BenchCase {
  return {
    name,
    make() {
      const x = randomTensor(shape, 1);
      const dy = randomTensor([shape[0], shape[1], ...size], 2);
      return {
        run() {
          const made: NativeTensor[] = [native.interpolateBilinear(x, { size, alignCorners: true })];
          if (backward) made.push(native.interpolateBilinearBackward(dy, { inputShape: shape, alignCorners: true }));
          for (const t of made) t.dispose();
        },
        dispose() {
          x.dispose();
          dy.dispose();
        },
      };
    },
  };
}

export const benches: BenchCase[] = [
  interpCase('interpolateBilinear ac fwd 2x19x97x97->769x769', [2, 19, 97, 97], [769, 769], false),
  interpCase('interpolateBilinear ac fwd+bwd 2x19x97x97->769x769', [2, 19, 97, 97], [769, 769], true),
];
