// Native attention kernels (native/cpu/attention.cpp, bound in native/napi/attention_bindings.cpp).
import type { NativeTensor } from '../types.js';

export interface AttentionOptions {
  /** Multiplies q.k before the softmax; any finite number. Default C^-1/2. */
  scale?: number;
}

export interface AttentionForwardOptions extends AttentionOptions {
  /**
   * Also return the probabilities p [B,N,S] (default false), for the backward to use instead of
   * recomputing q k^T: worth it when N x S is small beside q, k and v (S = 110 anchors).
   */
  keepProbabilities?: boolean;
}

export interface AttentionBackwardOptions extends AttentionOptions {
  /** Which input gradients to compute (each defaults to true); skipped ones cost nothing. */
  needQ?: boolean;
  needK?: boolean;
  needV?: boolean;
}

export interface AttentionKernels {
  /**
   * Fused attention: out = softmax(scale * q k^T, over the S keys) v, for q [B,N,C], k [B,S,C],
   * v [B,S,Cv]. Returns out [B,N,Cv] and lse [B,N], each row's log-sum-exp of scale * q.k (kept
   * for the backward), and p [B,N,S] when keepProbabilities is set. Otherwise never materialises
   * N x S, so S = N (non-local baselines) works at any N.
   * Non-finite scores behave as PyTorch's softmax: a row with NaN or +inf, or only -inf, gives NaN.
   */
  attention(q: NativeTensor, k: NativeTensor, v: NativeTensor, options?: AttentionForwardOptions): {
    out: NativeTensor;
    lse: NativeTensor;
    p?: NativeTensor;
  };
  /**
   * Gradients of attention() for the upstream gradient dout [B,N,Cv], from the forward's out and
   * lse; the probabilities are recomputed flash-attention style, unless the forward's p is given.
   * Returns only
   * the gradients asked for: dq [B,N,C], dk [B,S,C], dv [B,S,Cv]. Deterministic across thread counts.
   */
  attentionBackward(
    dout: NativeTensor,
    q: NativeTensor,
    k: NativeTensor,
    v: NativeTensor,
    out: NativeTensor,
    lse: NativeTensor,
    options?: AttentionBackwardOptions,
    p?: NativeTensor | null,
  ): { dq?: NativeTensor; dk?: NativeTensor; dv?: NativeTensor };
  /**
   * The attention map softmax(scale * q k^T) as a [B,N,S] tensor, for tests and inspection only:
   * unlike attention() it materialises all N x S probabilities.
   */
  attentionWeights(q: NativeTensor, k: NativeTensor, options?: AttentionOptions): NativeTensor;
}

export type { NativeTensor };
