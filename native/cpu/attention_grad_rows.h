// The per-element work of the fused attention's backward (attention_grad_rows.cpp), vectorised
// per ISA: float data, double only where a value is summed over many terms. Sums run over 8
// double lanes in a fixed order, so every ISA clone gives the same bits.
#pragma once
#include <cstdint>

namespace ann::attn {

// dst[r,:] = src[r,:] / sum(src[r,:]), the sum and the quotient in double; src rows are `ld`
// apart, dst rows contiguous (dst may be src when ld == cols).
void normalise_rows(const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst);

// D[r] = sum_c a[r,c] * b[r,c] in double (each float product is exact there).
void row_dots(const float* a, const float* b, int64_t rows, int64_t cols, double* D);

// The softmax backward before the scale: ds = p * (ds - D[r]), in double, rounded once.
void softmax_grad(const float* p, float* ds, int64_t rows, int64_t cols, const double* D);

// acc[r,:] (double, rows ld_acc apart) = x[r,:] (overwrite) or += x[r,:]; x rows contiguous.
void accumulate(const float* x, int64_t rows, int64_t cols, bool overwrite, double* acc, int64_t ld_acc);

// dst[i] = (float) sum_g parts[g * stride + i] for g < count, i < n, summed in g order.
void sum_partials(const double* parts, int64_t count, int64_t stride, int64_t n, float* dst);

}  // namespace ann::attn
