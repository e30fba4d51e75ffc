// Explicit 8-wide float vectors (GCC vector extensions) for the loss and interp kernels.
// Why not plain loops: GCC 12 at -O2 vectorises only loops whose trip count is a known multiple of
// the vector width, and under -ftrapping-math never turns the float selects of exp or max into
// vector blends. Vector-extension code is compiled for whatever target the enclosing function has
// (SSE2 pairs by default, one ymm register in the avx2/avx512f target_clones).
#pragma once
#include <cstdint>
#include <cstring>

#include "simd.h"

// Every helper is force-inlined into its (target_clones) caller, so no vector ever crosses a call
// boundary and the ABI notes GCC prints for 32-byte vectors under the default target do not apply
// (they are reported at the calling lines, so the note stays off for the rest of the file).
#pragma GCC diagnostic ignored "-Wpsabi"
#define ANN_SIMD_INLINE inline __attribute__((always_inline))
// The hot loops of the loss and interp kernels, compiled three ways and picked at load time.

namespace ann::simd {

constexpr int64_t W = 8;
typedef float vf __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(32)));

ANN_SIMD_INLINE vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ANN_SIMD_INLINE void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
ANN_SIMD_INLINE vf splat(float a) { return vf{a, a, a, a, a, a, a, a}; }
ANN_SIMD_INLINE vi splat_i(int32_t a) { return vi{a, a, a, a, a, a, a, a}; }
// max(a, m) keeping m where a is NaN, like the scalar form `a > m ? a : m`.
ANN_SIMD_INLINE vf max_into(vf a, vf m) { return a > m ? a : m; }

// exp(x) for x <= 0 (Cephes' single-precision polynomial, within 2 ulp); NaN propagates and
// results below 2^-126 flush to 0. scalar_exp_nonpos is the same arithmetic on one value.
ANN_SIMD_INLINE vf exp_nonpos(vf x) {
  const vi tiny = x < splat(-87.3f);
  const vf xc = tiny ? splat(-87.3f) : x;
  const vf fx = xc * 1.44269504088896341f;
  const vf t = fx + 12582912.0f;  // 1.5 * 2^23: rounds fx to an integer held in t's low bits
  const vf n = t - 12582912.0f;
  vf r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi scale = ((vi)t - 0x4B400000 + 127) << 23;
  const vf e = p * (vf)scale;
  const vi bits = (vi)e & ~tiny;
  return (vf)bits;
}

ANN_SIMD_INLINE float scalar_exp_nonpos(float x) {
  const float xc = x < -87.3f ? -87.3f : x;
  const float fx = xc * 1.44269504088896341f;
  const float t = fx + 12582912.0f;
  const float n = t - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t tb;
  std::memcpy(&tb, &t, 4);
  const uint32_t sb = static_cast<uint32_t>(tb - 0x4B400000 + 127) << 23;
  float scale;
  std::memcpy(&scale, &sb, 4);
  return x < -87.3f ? 0.0f : p * scale;
}

ANN_SIMD_INLINE float hmax(vf v, float m) {
  for (int64_t l = 0; l < W; ++l) m = v[l] > m ? v[l] : m;
  return m;
}
ANN_SIMD_INLINE float hsum(vf v) {
  float s = 0;
  for (int64_t l = 0; l < W; ++l) s += v[l];
  return s;
}

}  // namespace ann::simd
