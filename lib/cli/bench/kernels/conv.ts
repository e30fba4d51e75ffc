// conv2d forward+backward at the dilated ResNet's layer3/layer4 shapes (batch 1, 65x65: a 513 crop
// at output stride 8; and the small preset's, width 0.25, batch 8: its 3x3 convs at the training
// step's 9x9, 17x17 and 32x32 maps, and the older 8x8 cases), and batch norm training
// forward+backward. Names match bench/torch/conv.py.
import { native, type NativeTensor } from '../../../native/index.js';
import { randomTensor, type BenchCase } from './harness.js';
import { nativeFull } from '../../../tensor.js';

const S = 65;

function convCase(name: string, cin: number, cout: number, k: number, dilation: number, batch = 1, size = S): BenchCase {
  const pad = dilation * ((k - 1) >> 1);
  return {
    name,
    // forward, dx and dweight: three GEMMs of 2*Cout*Cin*k*k*Ho*Wo each (padding taps included)
    flops: 3 * 2 * batch * cout * cin * k * k * size * size,
    make() {
      const x = randomTensor([batch, cin, size, size], 1);
      const w = randomTensor([cout, cin, k, k], 2, 1 / Math.sqrt(cin * k * k));
      const dy = randomTensor([batch, cout, size, size], 3);
      const opts = { padding: pad, dilation };
      return {
        run() {
          const y = native.conv2d(x, w, null, opts);
          const g = native.conv2dBackward(dy, x, w, { ...opts, needBias: false });
          y.dispose();
          g.dx!.dispose();
          g.dweight!.dispose();
        },
        dispose() {
          for (const t of [x, w, dy]) t.dispose();
        },
      };
    },
  };
}

function batchNormCase(name: string, shape: number[]): BenchCase {
  return {
    name,
    make() {
      const c = shape[1];
      const x = randomTensor(shape, 4);
      const dy = randomTensor(shape, 5);
      const w = nativeFull([c], 1);
      const b = nativeFull([c], 0);
      const rm = nativeFull([c], 0);
      const rv = nativeFull([c], 1);
      return {
        run() {
          const r = native.batchNorm(x, w, b, rm, rv, { training: true });
          const g = native.batchNormBackward(dy, x, w, r.saveMean, r.saveInvstd, { training: true });
          for (const t of [r.y, r.saveMean, r.saveInvstd, g.dx, g.dweight, g.dbias] as NativeTensor[]) t.dispose();
        },
        dispose() {
          for (const t of [x, dy, w, b, rm, rv]) t.dispose();
        },
      };
    },
  };
}

export const benches: BenchCase[] = [
  convCase('conv2d fwd+bwd 3x3 dil2 256->256 1x65x65', 256, 256, 3, 2),
  convCase('conv2d fwd+bwd 3x3 dil4 512->512 1x65x65', 512, 512, 3, 4),
  convCase('conv2d fwd+bwd 3x3 dil2 64->64 8x8x8', 64, 64, 3, 2, 8, 8),
  convCase('conv2d fwd+bwd 3x3 dil4 128->128 8x8x8', 128, 128, 3, 4, 8, 8),
  // The small preset's training step (64 crop, batch 8): its 3x3 convs on 9x9, 17x17 and 32x32 maps.
  convCase('conv2d fwd+bwd 3x3 dil4 128->128 8x9x9', 128, 128, 3, 4, 8, 9),
  convCase('conv2d fwd+bwd 3x3 dil2 128->128 8x9x9', 128, 128, 3, 2, 8, 9),
  convCase('conv2d fwd+bwd 3x3 dil2 64->64 8x9x9', 64, 64, 3, 2, 8, 9),
  convCase('conv2d fwd+bwd 3x3 dil2 64->128 8x9x9', 64, 128, 3, 2, 8, 9),
  convCase('conv2d fwd+bwd 3x3 128->64 8x9x9', 128, 64, 3, 1, 8, 9),
  convCase('conv2d fwd+bwd 3x3 32->32 8x9x9', 32, 32, 3, 1, 8, 9),
  convCase('conv2d fwd+bwd 3x3 16->16 8x17x17', 16, 16, 3, 1, 8, 17),
  convCase('conv2d fwd+bwd 3x3 16->16 8x32x32', 16, 16, 3, 1, 8, 32),
  convCase('conv2d fwd+bwd 1x1 1024->256 1x65x65', 1024, 256, 1, 1),
  convCase('conv2d fwd+bwd 1x1 2048->512 1x65x65', 2048, 512, 1, 1),
  batchNormCase('batchNorm train fwd+bwd 1x512x65x65', [1, 512, S, S]),
  batchNormCase('batchNorm train fwd+bwd 8x64x129x129', [8, 64, 129, 129]),
];
