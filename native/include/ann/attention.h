// Fused asymmetric attention (the flash-attention method on the CPU):
//   out = softmax(scale * q k^T, over S) v,  q [B,N,C], k [B,S,C], v [B,S,Cv], out [B,N,Cv]
// plus lse [B,N], each row's log-sum-exp of scale * q.k over the S keys. Neither direction
// allocates N x S: queries are tiled, and keys too when S is large (online softmax forward;
// backward recomputes probabilities as exp(scale * q.k - lse)). All pointers are contiguous
// row-major float32; every size is >= 1. Non-finite scores follow PyTorch's softmax and
// logsumexp: a row holding NaN or +inf, or only -inf, gives NaN outputs.
#pragma once
#include <cstdint>

namespace ann {

struct AttentionDims {
  int64_t B, N, S, C, Cv;
};

// p, when not null, receives the probabilities [B,N,S] (exactly the rows that produced out): the
// caller keeps them when N x S is small beside q, k and v (S = 110 anchors), so that the backward
// need not recompute q k^T. When null, nothing N x S is written.
void attention_forward(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                       float* out, float* lse, float* p);

// dq, dk, dv may each be null when that gradient is not wanted. p is null (the probabilities are
// recomputed from lse) or the forward's p; both give the same gradients within float rounding of
// the scores. Deterministic: the result does not depend on the thread count or on scheduling.
void attention_backward(const AttentionDims& d, float scale, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse, const float* p,
                        float* dq, float* dk, float* dv);

// The probabilities themselves, w [B,N,S]: this DOES materialise N x S (for tests and inspection).
void attention_weights(const AttentionDims& d, float scale, const float* q, const float* k, float* w);

}  // namespace ann
