// The softmax half of the fused attention: exp, row max/sum and row scaling over 16-float lanes.
// GCC vector extensions spell out the lanes, so the order of every reduction is fixed and each
// target_clones variant (one zmm, two ymm or four xmm per lane group) computes the same bits.
// No FMA is used for the same reason.
#include "attention_rows.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "simd.h"

// Vector arguments of the always-inlined helpers never cross a real call boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ann::attn {
namespace {

constexpr int W = 16;
typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));

constexpr float kInf = std::numeric_limits<float>::infinity();

ANN_INLINE vf splat(float a) { return vf{} + a; }
ANN_INLINE vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ANN_INLINE void store(float* p, const vf& v) { std::memcpy(p, &v, sizeof v); }
// The first n (< W) floats of p, the rest `fill`.
ANN_INLINE vf load_part(const float* p, int64_t n, float fill) {
  float t[W];
  for (int i = 0; i < W; ++i) t[i] = i < n ? p[i] : fill;
  return load(t);
}
ANN_INLINE void store_part(float* p, const vf& v, int64_t n) {
  float t[W];
  store(t, v);
  for (int64_t i = 0; i < n; ++i) p[i] = t[i];
}

// exp as Cephes' expf (relative error below 2e-7): x = n ln2 + r, |r| <= ln2/2, exp(r) by a
// degree-5 minimax polynomial, 2^n applied in two halves so that results near FLT_MAX and the
// subnormals stay exact in the exponent. Overflow gives +inf, -inf gives 0, NaN stays NaN.
ANN_INLINE vf vexp(const vf& x) {
  const vf lo = splat(-104.f), hi = splat(88.7228f), zero = splat(0.f);
  const vi nan = x != x;
  vf xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  xc = nan ? zero : xc;
  const vf magic = splat(12582912.f);  // 1.5 * 2^23: adding it rounds to an integer
  const vf n = (xc * splat(1.44269504088896341f) + magic) - magic;
  vf r = xc - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  vf p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  vf y = p * (r * r) + r + splat(1.f);
  const vi ni = __builtin_convertvector(n, vi), n1 = ni >> 1, n2 = ni - n1;
  const vi b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  vf f1, f2;
  std::memcpy(&f1, &b1, sizeof f1);
  std::memcpy(&f2, &b2, sizeof f2);
  y = (y * f1) * f2;
  y = x < lo ? zero : y;
  y = x > hi ? splat(kInf) : y;
  return nan ? x : y;
}

// NaN-ignoring (x > m keeps m when x is NaN): NaN rows are caught by the sum instead.
ANN_INLINE vf vmax(const vf& a, const vf& b) { return b > a ? b : a; }

ANN_INLINE float hmax(const vf& v) {
  float m = v[0];
  for (int i = 1; i < W; ++i) m = v[i] > m ? v[i] : m;
  return m;
}
ANN_INLINE float hsum(const vf& v) {
  // Pairwise, in a fixed order.
  float t[W];
  store(t, v);
  for (int w = W / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

}  // namespace

ANN_INLINE void softmax_block_impl(float* s, int64_t rows, int64_t cols, int64_t ld, float* m, float* l,
                                   float* alpha) {
  const int64_t full = cols / W * W, rest = cols - full;
  for (int64_t r = 0; r < rows; ++r) {
    float* x = s + r * ld;
    vf mx = splat(-kInf);
    for (int64_t c = 0; c < full; c += W) mx = vmax(mx, load(x + c));
    if (rest) mx = vmax(mx, load_part(x + full, rest, -kInf));
    const float m_old = m[r], bm = hmax(mx);
    const float m_new = bm > m_old ? bm : m_old;
    float a = 1.f;
    if (m_new != m_old) a = m_old == -kInf ? 0.f : std::exp(m_old - m_new);
    const vf shift = splat(std::isinf(m_new) ? 0.f : m_new);
    vf acc = splat(0.f);
    for (int64_t c = 0; c < full; c += W) {
      const vf p = vexp(load(x + c) - shift);
      store(x + c, p);
      acc += p;
    }
    if (rest) {
      const vf p = vexp(load_part(x + full, rest, -kInf) - shift);
      store_part(x + full, p, rest);
      acc += p;
    }
    m[r] = m_new;
    l[r] = l[r] * a + hsum(acc);
    alpha[r] = a;
  }
}
ANN_SIMD_KERNEL(void, softmax_block,
                (float* s, int64_t rows, int64_t cols, int64_t ld, float* m, float* l, float* alpha),
                (s, rows, cols, ld, m, l, alpha))

ANN_INLINE void scale_rows_impl(float* x, int64_t rows, int64_t cols, int64_t ld, const float* f) {
  for (int64_t r = 0; r < rows; ++r) {
    const float a = f[r];
    if (a == 1.f) continue;
    float* y = x + r * ld;
    const vf av = splat(a);
    const int64_t full = cols / W * W, rest = cols - full;
    for (int64_t c = 0; c < full; c += W) store(y + c, load(y + c) * av);
    if (rest) store_part(y + full, load_part(y + full, rest, 0.f) * av, rest);
  }
}
ANN_SIMD_KERNEL(void, scale_rows, (float* x, int64_t rows, int64_t cols, int64_t ld, const float* f),
                (x, rows, cols, ld, f))

ANN_INLINE void exp_shifted_impl(float* x, int64_t rows, int64_t cols, int64_t ld, const float* shift) {
  const int64_t full = cols / W * W, rest = cols - full;
  for (int64_t r = 0; r < rows; ++r) {
    float* y = x + r * ld;
    const vf sh = splat(shift[r]);
    for (int64_t c = 0; c < full; c += W) store(y + c, vexp(load(y + c) + sh));
    if (rest) store_part(y + full, vexp(load_part(y + full, rest, 0.f) + sh), rest);
  }
}
ANN_SIMD_KERNEL(void, exp_shifted, (float* x, int64_t rows, int64_t cols, int64_t ld, const float* shift),
                (x, rows, cols, ld, shift))

}  // namespace ann::attn
