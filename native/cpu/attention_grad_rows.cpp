// Backward pieces of the fused attention over 8-double lanes (double_lanes.h).
// Tails shorter than a lane group go through the same vector code with neutral padding.
#include "attention_grad_rows.h"

#include "double_lanes.h"

// Vector arguments of the always-inlined helpers never cross a real call boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ann::attn {
namespace {

using namespace ann::f64x8;

// Calls f(offset, n) over [0, cols) in lane groups, n = W but for the last.
template <typename F>
ANN_INLINE void lanes(int64_t cols, F&& f) {
  int64_t c = 0;
  for (; c + W <= cols; c += W) f(c, W);
  if (c < cols) f(c, cols - c);
}

}  // namespace

ANN_INLINE void normalise_rows_impl(const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = src + r * ld;
    float* y = dst + r * cols;
    vd acc = splat(0);
    lanes(cols, [&](int64_t c, int64_t n) { acc += load_f(x + c, n); });
    const vd inv = splat(1.0 / sum_pairwise(acc));
    lanes(cols, [&](int64_t c, int64_t n) { store_f(y + c, load_f(x + c, n) * inv, n); });
  }
}
ANN_SIMD_KERNEL(void, normalise_rows, (const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst),
                (src, ld, rows, cols, dst))

ANN_INLINE void row_dots_impl(const float* a, const float* b, int64_t rows, int64_t cols, double* D) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = a + r * cols, *y = b + r * cols;
    vd acc = splat(0);
    lanes(cols, [&](int64_t c, int64_t n) { acc += load_f(x + c, n) * load_f(y + c, n); });
    D[r] = sum_pairwise(acc);
  }
}
ANN_SIMD_KERNEL(void, row_dots, (const float* a, const float* b, int64_t rows, int64_t cols, double* D),
                (a, b, rows, cols, D))

ANN_INLINE void softmax_grad_impl(const float* p, float* ds, int64_t rows, int64_t cols, const double* D) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = p + r * cols;
    float* y = ds + r * cols;
    const vd d = splat(D[r]);
    lanes(cols, [&](int64_t c, int64_t n) { store_f(y + c, load_f(x + c, n) * (load_f(y + c, n) - d), n); });
  }
}
ANN_SIMD_KERNEL(void, softmax_grad, (const float* p, float* ds, int64_t rows, int64_t cols, const double* D),
                (p, ds, rows, cols, D))

ANN_INLINE void accumulate_impl(const float* x, int64_t rows, int64_t cols, bool overwrite, double* acc,
                                int64_t ld_acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * cols;
    double* a = acc + r * ld_acc;
    if (overwrite) {
      lanes(cols, [&](int64_t c, int64_t n) { store_d(a + c, load_f(s + c, n), n); });
    } else {
      lanes(cols, [&](int64_t c, int64_t n) { store_d(a + c, load_d(a + c, n) + load_f(s + c, n), n); });
    }
  }
}
ANN_SIMD_KERNEL(void, accumulate,
                (const float* x, int64_t rows, int64_t cols, bool overwrite, double* acc, int64_t ld_acc),
                (x, rows, cols, overwrite, acc, ld_acc))

ANN_INLINE void sum_partials_impl(const double* parts, int64_t count, int64_t stride, int64_t n, float* dst) {
  lanes(n, [&](int64_t i, int64_t m) {
    vd acc = load_d(parts + i, m);
    for (int64_t g = 1; g < count; ++g) acc += load_d(parts + g * stride + i, m);
    store_f(dst + i, acc, m);
  });
}
ANN_SIMD_KERNEL(void, sum_partials,
                (const double* parts, int64_t count, int64_t stride, int64_t n, float* dst),
                (parts, count, stride, n, dst))

}  // namespace ann::attn
