// Fused pyramid pooling (ANN's key/value anchors at a 1024x512 crop: [1,256,256,128]) against
// PyTorch's four adaptive pools + flatten + cat, and the ResNet stem's 3x3/2 ceil max pool.
// Names match bench/torch/pool.py.
import { native, type NativeTensor } from '../../../native/index.js';
import { randomTensor, type BenchCase } from './harness.js';

const PYRAMID = [1, 256, 256, 128];
const SIZES = [1, 3, 6, 8];
const S = 110;

function pyramidCase(name: string, mode: 'avg' | 'max', backward: boolean): BenchCase {
  return {
    name,
    make() {
      const x = randomTensor(PYRAMID, 1);
      const dy = randomTensor([1, PYRAMID[1], S], 2);
      return {
        run() {
          const r = native.pyramidPool(x, { sizes: SIZES, mode });
          if (backward) native.pyramidPoolBackward(dy, { inputShape: PYRAMID, sizes: SIZES, mode, indices: r.indices }).dispose();
          r.y.dispose();
          r.indices?.dispose();
        },
        dispose() {
          x.dispose();
          dy.dispose();
        },
      };
    },
  };
}

function maxPoolCase(name: string, backward: boolean): BenchCase {
  const shape = [1, 128, 385, 385];
  const opts = { kernelSize: 3, stride: 2, padding: 1, ceilMode: true };
  return {
    name,
    make() {
      const x = randomTensor(shape, 3);
      const dy = randomTensor([1, 128, 193, 193], 4);
      return {
        run() {
          const { y, indices } = native.maxPool2d(x, opts);
          const out: NativeTensor[] = [y, indices];
          if (backward) out.push(native.maxPool2dBackward(dy, indices, shape));
          for (const t of out) t.dispose();
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
  pyramidCase('pyramidPool avg fwd 1x256x256x128', 'avg', false),
  pyramidCase('pyramidPool avg fwd+bwd 1x256x256x128', 'avg', true),
  pyramidCase('pyramidPool max fwd+bwd 1x256x256x128', 'max', true),
  maxPoolCase('maxPool2d 3x3/2 ceil fwd 1x128x385x385', false),
  maxPoolCase('maxPool2d 3x3/2 ceil fwd+bwd 1x128x385x385', true),
];
