// Row-wise softmax pieces of the fused attention (attention_rows.cpp), vectorised per ISA.
// A block is `rows` rows of `cols` floats, `ld` apart. Lane order is fixed, so every ISA clone
// gives the same bits.
#pragma once
#include <cstdint>

namespace ann::attn {

// One online-softmax step. On entry s holds scale * q.k; on exit p = exp(s - shift), where
// shift is the running row max m (0 while m is infinite, as PyTorch's logsumexp does). m and l
// (running max and sum of p) are updated; alpha[r] receives the factor for the old accumulator.
void softmax_block(float* s, int64_t rows, int64_t cols, int64_t ld, float* m, float* l, float* alpha);

// s = exp(s - lse[r]): the probabilities recomputed from the saved log-sum-exp (NaN rows where
// lse is infinite, as the forward's softmax).
void probs_from_lse(float* s, int64_t rows, int64_t cols, int64_t ld, const float* lse);

// p[r,:] /= sum(p[r,:]): rows that hold every key made to sum to 1 again (a NaN row stays NaN).
void normalise_rows(float* s, int64_t rows, int64_t cols, int64_t ld);

// dp = p * (dp - D[r]): the score gradient before the scale.
void score_grad(float* dp, const float* p, int64_t rows, int64_t cols, int64_t ld, const float* D);

// out[r] = sum_c a[r,c] * b[r,c] for contiguous [rows, cols] a and b.
void row_dots(const float* a, const float* b, int64_t rows, int64_t cols, float* out);

// x[r,:] *= f[r] (rows whose factor is exactly 1 are left alone).
void scale_rows(float* x, int64_t rows, int64_t cols, int64_t ld, const float* f);

// dst[i] += src[i].
void accumulate(float* dst, const float* src, int64_t n);

// The vectorised exp on its own, for accuracy tests of the kernel: y[i] = exp(x[i]).
void exp_array(const float* x, float* y, int64_t n);

}  // namespace ann::attn
