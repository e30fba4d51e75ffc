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

// x[r,:] *= f[r] (rows whose factor is exactly 1 are left alone).
void scale_rows(float* x, int64_t rows, int64_t cols, int64_t ld, const float* f);

// x[r,:] = exp(x[r,:] + shift[r]).
void exp_shifted(float* x, int64_t rows, int64_t cols, int64_t ld, const float* shift);

}  // namespace ann::attn
