// A one-off check for a loaded machine, not part of `ann-seg bench`: the fused attention's forward
// and backward timed apart in CPU time of this process (min of `reps`), which other processes
// competing for the cores inflate far less than wall time. Run single-threaded, beside attention.py:
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ANN_SEG_NUM_THREADS=1 npx tsx bench/cpu-time/attention.ts 32768 110 256 9
// ANN_SEG_ADDON picks another build; MB_OLD=1 for an addon from before the kept probabilities
// (no keepProbabilities option); MB_KEEP=1 keeps them whatever the size.
import { randomTensor } from '../../lib/cli/bench/kernels/harness.js';
import { native } from '../../lib/native/index.js';
import { keepsProbabilities } from '../../lib/ops/attention.js';

const [N, S, C, reps] = process.argv.slice(2).map(Number);
const q = randomTensor([1, N, C], 1, 2);
const k = randomTensor([1, S, C], 2, 2);
const v = randomTensor([1, S, C], 3);
const dout = randomTensor([1, N, C], 4);
const old = Boolean(process.env.MB_OLD);
const keep = process.env.MB_KEEP ? true : keepsProbabilities(q, k, v);
const fwd: number[] = [];
const bwd: number[] = [];
const cpuMs = (start: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
};
for (let i = 0; i < reps; i++) {
  let c0 = process.cpuUsage();
  const { out, lse, p } = native.attention(q, k, v, old ? {} : { keepProbabilities: keep });
  fwd.push(cpuMs(c0));
  c0 = process.cpuUsage();
  const g = old
    ? native.attentionBackward(dout, q, k, v, out, lse, {})
    : native.attentionBackward(dout, q, k, v, out, lse, {}, p);
  bwd.push(cpuMs(c0));
  for (const t of [out, lse, p, g.dq, g.dk, g.dv]) t?.dispose();
}
const min = (a: number[]) => Math.min(...a).toFixed(1);
console.log(`ours N=${N} S=${S} keep=${keep} fwd cpu ${min(fwd)} | bwd cpu ${min(bwd)} ms`);
