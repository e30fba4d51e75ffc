// What this machine can do at best, the yardsticks each kernel's rate is shown against: sgemm
// GFLOP/s (a square product through our GEMM path) and copy GB/s (a large tensor copied, bytes
// read plus written).
import { defaultDevice } from '../../device.js';
import { native } from '../../native/index.js';
import { randomTensor } from './kernels/harness.js';
import { medianTime } from './timing.js';
import { nativeFull } from '../../tensor.js';

export interface MachineRates {
  /** sgemm of n x n x n, 2 n^3 flops. */
  sgemmGflops: number;
  sgemmSize: number;
  /** copy of `copyBytes`, counted as 2 x copyBytes moved. */
  copyGBs: number;
  copyBytes: number;
}

export function measureMachine(quick = false): MachineRates {
  const n = quick ? 512 : 2048;
  const a = randomTensor([n, n], 1);
  const b = randomTensor([n, n], 2);
  const timing = quick ? { minRuns: 1, maxRuns: 1, budgetMs: 0 } : { minRuns: 5, maxRuns: 50, budgetMs: 1500 };
  const gemm = () => native.matmul(a, b).dispose();
  gemm();
  const g = medianTime(gemm, timing);
  a.dispose();
  b.dispose();
  // 64 MiB: well beyond the caches, as the feature maps are.
  const elems = (quick ? 4 : 64) << 18;
  const src = randomTensor([elems], 3);
  const dst = nativeFull([elems], 0);
  const copy = () => native.copyInto(dst, src);
  copy();
  const c = medianTime(copy, timing);
  src.dispose();
  dst.dispose();
  return { sgemmGflops: (2 * n ** 3) / (g.ms * 1e6), sgemmSize: n, copyGBs: (2 * 4 * elems) / (c.ms * 1e6), copyBytes: 4 * elems };
}

export function describeMachine(m: MachineRates): string {
  const i = native.info();
  return (
    `machine: sgemm ${m.sgemmSize}^3 ${m.sgemmGflops.toFixed(1)} GFLOP/s, copy of ${(m.copyBytes / 2 ** 20).toFixed(0)} MiB ` +
    `${m.copyGBs.toFixed(1)} GB/s; ${i.threads} threads, SIMD ${i.simd}, OpenBLAS core ${i.blasCore}` +
    (process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE})` : '') +
    (defaultDevice() === 'cuda' ? `; the cases and both rates on cuda: ${i.cuda}` : '')
  );
}
