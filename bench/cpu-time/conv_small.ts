// A one-off check for a loaded machine, not part of `ann-seg bench`: the small preset's 3x3 convs
// (batch 8 at the training step's shapes), forward and backward (dx and dweight) apart, in CPU time
// of this process (min of `reps`), beside conv_small.py:
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ANN_SEG_NUM_THREADS=1 npx tsx bench/cpu-time/conv_small.ts 30
// ANN_SEG_ADDON picks another build. Columns: forward ms, backward ms.
import { native } from '../../lib/native/index.js';
import { randomTensor } from '../../lib/cli/bench/kernels/harness.js';

// [Cin, Cout, size, dilation, calls per step]
const SHAPES: [number, number, number, number, number][] = [
  [128, 128, 9, 4, 2],
  [128, 128, 9, 2, 1],
  [64, 64, 9, 2, 2],
  [64, 128, 9, 2, 1],
  [128, 64, 9, 1, 1],
  [32, 32, 9, 1, 3],
  [16, 16, 17, 1, 3],
  [16, 16, 32, 1, 1],
];
const reps = Number(process.argv[2] ?? '30');
const cpuMs = (fn: () => void) => {
  let best = Infinity;
  for (let i = 0; i <= reps; i++) {
    const c0 = process.cpuUsage();
    fn();
    const u = process.cpuUsage(c0);
    if (i > 0) best = Math.min(best, (u.user + u.system) / 1000);
  }
  return best;
};
let fwdSum = 0;
let bwdSum = 0;
for (const [cin, cout, size, dilation, calls] of SHAPES) {
  const x = randomTensor([8, cin, size, size], 1);
  const w = randomTensor([cout, cin, 3, 3], 2, 1 / Math.sqrt(cin * 9));
  const dy = randomTensor([8, cout, size, size], 3);
  const opts = { padding: dilation, dilation };
  const fwd = cpuMs(() => native.conv2d(x, w, null, opts).dispose());
  const bwd = cpuMs(() => {
    const g = native.conv2dBackward(dy, x, w, { ...opts, needBias: false });
    g.dx!.dispose();
    g.dweight!.dispose();
  });
  fwdSum += calls * fwd;
  bwdSum += calls * bwd;
  console.log(`8x${cin}x${size}x${size}->${cout} d${dilation} x${calls}: ${fwd.toFixed(2)} ${bwd.toFixed(2)}`);
  for (const t of [x, w, dy]) t.dispose();
}
console.log(`per step (weighted by calls): fwd ${fwdSum.toFixed(1)} bwd ${bwdSum.toFixed(1)} ms`);
