// F.asymmetricAttention over the fused native kernel: softmax(scale * q k^T) v without an N x S
// matrix; the backward recomputes the probabilities from the saved per-row log-sum-exp, except
// when N x S is small beside the inputs (S = 110 anchors), where the forward keeps them.
import { needsGrad, record } from '../autograd/tape.js';
import { native } from '../native/index.js';
import type { AttentionOptions } from '../native/kernels/attention.js';
import { Tensor } from '../tensor.js';
import { checkOptionNames } from './options.js';

export type { AttentionOptions };

const ATTENTION_OPTIONS = ['scale'];

/**
 * Whether the backward should get the forward's probabilities: when B x N x S floats are no more
 * than q, k, v and out together, which the graph keeps anyway, so at most doubling what attention
 * holds for the backward while sparing it q k^T and the softmax. NB-sized maps (S = N) stream.
 */
export function keepsProbabilities(q: { shape: number[] }, k: { shape: number[] }, v: { shape: number[] }): boolean {
  const [B, N, C] = q.shape;
  const S = k.shape[1];
  const Cv = v.shape[2];
  return B * N * S <= B * (N * C + S * C + S * Cv + N * Cv);
}

/**
 * out [B,N,Cv] = softmax(scale * q k^T over the S keys) v for q [B,N,C], k [B,S,C], v [B,S,Cv];
 * scale defaults to C^-1/2. S = N gives the plain non-local block.
 */
export function asymmetricAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  checkOptionNames('asymmetricAttention', options, ATTENTION_OPTIONS);
  const opts = options.scale === undefined ? {} : { scale: options.scale };
  const grad = needsGrad(q, k, v);
  const keep = grad && keepsProbabilities(q, k, v); // false for bad ranks, which native rejects
  const r = native.attention(q.native, k.native, v.native, keep ? { ...opts, keepProbabilities: true } : opts);
  const out = new Tensor(r.out);
  const lse = new Tensor(r.lse);
  const p = r.p ? new Tensor(r.p) : null;
  if (!grad) {
    lse.dispose();
    return out;
  }
  record(
    'asymmetricAttention',
    [q, k, v],
    out,
    (g) => {
      const d = native.attentionBackward(
        g.native,
        q.native,
        k.native,
        v.native,
        out.native,
        lse.native,
        { ...opts, needQ: q.requiresGrad, needK: k.requiresGrad, needV: v.requiresGrad },
        p?.native,
      );
      return [d.dq, d.dk, d.dv].map((t) => (t ? new Tensor(t) : null));
    },
    p ? [q, k, v, out, lse, p] : [q, k, v, out, lse],
  );
  // lse and p belong to the graph alone: freed when backward has used them.
  lse.releaseFromScope();
  p?.releaseFromScope();
  return out;
}
