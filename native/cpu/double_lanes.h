// Eight double lanes over float data, for sums that must be exact and identical at every SIMD level:
// GCC vector extensions (one zmm at avx512, two ymm at avx2, four xmm at sse2) inside ANN_SIMD_KERNEL
// clones, the same operations in the same order in each. Plain loops over a double[8] stay scalar: GCC
// does not vectorise the float -> double widening inside them. Includers silence -Wpsabi: the helpers
// are always inlined, so no vector argument crosses a real call.
#pragma once

#include <cstdint>
#include <cstring>

#include "simd.h"

namespace ann::f64x8 {

constexpr int W = 8;
typedef double vd __attribute__((vector_size(W * 8)));
typedef float vf __attribute__((vector_size(W * 4)));

ANN_INLINE vd splat(double a) { return vd{} + a; }

// The first n (<= W) floats at p, the rest 0, as doubles.
ANN_INLINE vd load_f(const float* p, int64_t n = W) {
  vf v{};
  std::memcpy(&v, p, static_cast<size_t>(n) * 4);
  return __builtin_convertvector(v, vd);
}
// The first n lanes, each rounded once to float.
ANN_INLINE void store_f(float* p, const vd& v, int64_t n = W) {
  const vf f = __builtin_convertvector(v, vf);
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

// The lanes added left to right.
ANN_INLINE double sum_in_order(const vd& v) {
  double s = 0;
  for (int j = 0; j < W; ++j) s += v[j];
  return s;
}
// The lanes added pairwise (halves folded onto each other).
ANN_INLINE double sum_pairwise(const vd& v) {
  double t[W];
  std::memcpy(t, &v, sizeof t);
  for (int w = W / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

}  // namespace ann::f64x8
