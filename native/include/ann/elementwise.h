// Elementwise, broadcasting, reduction, layout, batched-matmul and channel-dropout kernels: the
// small ops that autograd composes into everything that is not a fused kernel. Contiguous float32
// buffers, row-major shapes of rank <= kMaxRank. Callers (the bindings) validate shapes first.
#pragma once
#include <cstdint>
#include <vector>

#include "ann/common.h"

namespace ann {

constexpr int kMaxRank = 8;

// --- pointwise (n elements) ---
// y = x > 0 ? x : 0, NaN kept (as torch.relu).
void relu(const float* x, float* y, int64_t n);
// dx = y > 0 ? dy : 0, NaN in y passes dy (as torch's threshold_backward).
void relu_backward(const float* dy, const float* y, float* dx, int64_t n);
// y = alpha * x + beta.
void affine(const float* x, float alpha, float beta, float* y, int64_t n);
// dst += alpha * src.
void axpy_inplace(float* dst, const float* src, float alpha, int64_t n);
// dst = src (parallel memcpy).
void copy(const float* src, float* dst, int64_t n);
void fill(float* dst, float value, int64_t n);

// --- broadcasting binary ops ---
enum class BinaryOp { Add, Sub, Mul, Div };
// numpy/PyTorch broadcast of two shapes (right-aligned); false when they do not broadcast.
bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out);
// y[broadcast_shapes(a, b)] = a op b.
void binary(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
            float* y);
// y[shape] = x broadcast (x_shape must broadcast to shape).
void broadcast_to(const float* x, const Shape& x_shape, const Shape& shape, float* y);

// --- reductions ---
// out = scale * sum of x over the dims d with reduce[d]; out holds the kept dims in order.
// Accumulates in double, so the result does not depend on the thread count beyond rounding.
void reduce_sum(const float* x, const Shape& shape, const std::vector<bool>& reduce, double scale,
                float* out);

// --- layout ---
// y = x.permute(dims).contiguous(); dims is a permutation of 0..rank-1.
void permute(const float* x, const Shape& shape, const std::vector<int>& dims, float* y);
// dst[r * dst_ld + c] = src[r * src_ld + c] for r < rows, c < cols (cat, split and narrow).
void copy2d(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows, int64_t cols);

// --- matrix product ---
// y[i] = op(a[i]) @ op(b[i]) for i < batch, op(a) [M,K], op(b) [K,N], y [batch,M,N] contiguous.
// a holds [M,K] matrices ([K,M] when trans_a), b holds [K,N] ([N,K] when trans_b); a shared
// operand is one matrix used for every i.
void matmul(const float* a, const float* b, float* y, int64_t batch, bool a_shared, bool b_shared, int64_t M,
            int64_t N, int64_t K, bool trans_a, bool trans_b);

// --- channel dropout ---
// mask[i] = 0 with probability p, else 1/(1-p), for i < channels, drawn from a counter-based
// generator: the same (seed, i) gives the same value on any thread count. p in [0, 1].
void dropout_mask(uint64_t seed, double p, int64_t channels, float* mask);
// y[c, i] = x[c, i] * scale[c] for c < channels, i < inner (dropout2d forward and backward).
void channel_scale(const float* x, const float* scale, int64_t channels, int64_t inner, float* y);

}  // namespace ann
