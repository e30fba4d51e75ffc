// Backward pieces of the fused attention over 8-double lanes (GCC vector extensions: one zmm,
// two ymm or four xmm per lane group, the same operations in the same order in every clone).
// Tails shorter than a lane group go through the same vector code with neutral padding.
#include "attention_grad_rows.h"

#include <cstring>

#include "simd.h"

// Vector arguments of the always-inlined helpers never cross a real call boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ann::attn {
namespace {

constexpr int W = 8;
typedef double vd __attribute__((vector_size(W * 8)));
typedef float vf __attribute__((vector_size(W * 4)));

ANN_INLINE vd splat(double a) { return vd{} + a; }
ANN_INLINE vd widen(const vf& v) { return __builtin_convertvector(v, vd); }
ANN_INLINE vf narrow(const vd& v) { return __builtin_convertvector(v, vf); }

// The first n (<= W) floats at p, the rest 0, as doubles.
ANN_INLINE vd load_f(const float* p, int64_t n = W) {
  vf v{};
  std::memcpy(&v, p, static_cast<size_t>(n) * 4);
  return widen(v);
}
ANN_INLINE void store_f(float* p, const vd& v, int64_t n = W) {
  const vf f = narrow(v);
  std::memcpy(p, &f, static_cast<size_t>(n) * 4);
}
ANN_INLINE vd load_d(const double* p, int64_t n = W) {
  vd v{};
  std::memcpy(&v, p, static_cast<size_t>(n) * 8);
  return v;
}
ANN_INLINE void store_d(double* p, const vd& v, int64_t n = W) {
  std::memcpy(p, &v, static_cast<size_t>(n) * 8);
}

ANN_INLINE double hsum(const vd& v) {
  // Pairwise, in a fixed order.
  double t[W];
  std::memcpy(t, &v, sizeof t);
  for (int w = W / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

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
    const vd inv = splat(1.0 / hsum(acc));
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
    D[r] = hsum(acc);
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
