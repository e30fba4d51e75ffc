// Fused attention at APNB's size (N = 256*128 queries against S = 110 pooled anchors, 256
// channels) and at a non-local (S = N) size. Names match bench/torch/attention.py.
// GFLOP/s count the six products of plain attention (2 forward, 4 backward), 2*N*S*C each; the
// fused backward recomputes q k^T where it streams (S = N; for S > 512 two more products), not
// counted. The probabilities are kept for the backward exactly where F.asymmetricAttention keeps them.
import { native, type NativeTensor } from '../../../native/index.js';
import { keepsProbabilities } from '../../../ops/attention.js';
import { randomTensor, type BenchCase } from './harness.js';

function attentionCase(name: string, N: number, S: number, C: number, Cv: number, backward: boolean): BenchCase {
  const products = backward ? 3 : 1;
  return {
    name,
    flops: products * 2 * N * S * (C + Cv),
    make() {
      // uniform(-1, 1) scaled so that scale * q.k stays O(1), as after trained projections
      const q = randomTensor([1, N, C], 1, 2);
      const k = randomTensor([1, S, C], 2, 2);
      const v = randomTensor([1, S, Cv], 3);
      const dout = randomTensor([1, N, Cv], 4);
      const keepProbabilities = backward && keepsProbabilities(q, k, v);
      return {
        run() {
          const { out, lse, p } = native.attention(q, k, v, { keepProbabilities });
          const made: (NativeTensor | undefined)[] = [out, lse, p];
          if (backward) {
            const g = native.attentionBackward(dout, q, k, v, out, lse, {}, p);
            made.push(g.dq, g.dk, g.dv);
          }
          for (const t of made) t?.dispose();
        },
        dispose() {
          for (const t of [q, k, v, dout]) t.dispose();
        },
      };
    },
  };
}

export const benches: BenchCase[] = [
  attentionCase('attention fwd+bwd N=32768 S=110 C=Cv=256', 32768, 110, 256, 256, true),
  attentionCase('attention fwd N=32768 S=110 C=Cv=256', 32768, 110, 256, 256, false),
  attentionCase('attention fwd+bwd N=S=4096 C=Cv=256', 4096, 4096, 256, 256, true),
  attentionCase('attention fwd N=S=4096 C=Cv=256', 4096, 4096, 256, 256, false),
];
