// F.asymmetricAttention over the fused native kernel: softmax(scale * q k^T) v without an N x S
// matrix; the backward recomputes the probabilities from the saved per-row log-sum-exp.
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import type { AttentionOptions } from '../native/kernels/attention.js';
import { Tensor } from '../tensor.js';
import { checkOptionNames } from './options.js';

export type { AttentionOptions };

const ATTENTION_OPTIONS = ['scale'];

/**
 * out [B,N,Cv] = softmax(scale * q k^T over the S keys) v for q [B,N,C], k [B,S,C], v [B,S,Cv];
 * scale defaults to C^-1/2. S = N gives the plain non-local block.
 */
export function asymmetricAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  checkOptionNames('asymmetricAttention', options, ATTENTION_OPTIONS);
  const opts = options.scale === undefined ? {} : { scale: options.scale };
  const r = native.attention(q.native, k.native, v.native, opts);
  const out = new Tensor(r.out);
  const lse = new Tensor(r.lse);
  if (!needsGrad(q, k, v)) {
    lse.dispose();
    return out;
  }
  record(
    'asymmetricAttention',
    [q, k, v],
    out,
    (g) => {
      const d = native.attentionBackward(g.native, q.native, k.native, v.native, out.native, lse.native, {
        ...opts,
        needQ: q.requiresGrad,
        needK: k.requiresGrad,
        needV: v.requiresGrad,
      });
      return [d.dq, d.dk, d.dv].map((t) => (t ? new Tensor(t) : null));
    },
    [q, k, v, out, lse],
  );
  // lse belongs to the graph alone: freed when backward has used it.
  lse.releaseFromScope();
  return out;
}
