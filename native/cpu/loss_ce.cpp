// Cross-entropy and OHEM cross-entropy over logits [batch, classes, inner], fused with the
// log-softmax: each tile of pixels computes max and log-sum-exp in two vectorised passes over the
// classes, and the backward recomputes them instead of storing probabilities.
// Sums run in double over fixed tiles and are then added in tile order, so results do not depend
// on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "alloc.h"
#include "ann/loss.h"
#include "loss_simd.h"
#include "parallel.h"

namespace ann {
namespace {

using namespace simd;

constexpr int64_t kTile = 256;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// m = max over classes, sum = sum exp(x - m), ls = log(sum), for len pixels whose classes are
// inner apart; e (same layout as x) also receives exp(x - m) unless null. One function for both
// uses, so the OHEM probabilities of forward and backward come from the same instructions.
ANN_INLINE void lse_tile_impl(const float* x, int64_t classes, int64_t inner, int64_t len, float* m,
                              float* sum, float* ls, float* e) {
  int64_t j = 0;
  for (; j + W <= len; j += W) {
    vf mv = splat(kNegInf), sv = splat(0);
    for (int64_t k = 0; k < classes; ++k) mv = max_into(load(x + k * inner + j), mv);
    for (int64_t k = 0; k < classes; ++k) {
      const vf ek = exp_nonpos(load(x + k * inner + j) - mv);
      if (e) store(e + k * inner + j, ek);
      sv += ek;
    }
    store(m + j, mv);
    store(sum + j, sv);
  }
  for (; j < len; ++j) {
    float mj = kNegInf, sj = 0;
    for (int64_t k = 0; k < classes; ++k) mj = x[k * inner + j] > mj ? x[k * inner + j] : mj;
    for (int64_t k = 0; k < classes; ++k) {
      const float ek = scalar_exp_nonpos(x[k * inner + j] - mj);
      if (e) e[k * inner + j] = ek;
      sj += ek;
    }
    m[j] = mj;
    sum[j] = sj;
  }
  for (j = 0; j < len; ++j) ls[j] = std::log(sum[j]);
}
ANN_SIMD_KERNEL(void, lse_tile,
                (const float* x, int64_t classes, int64_t inner, int64_t len, float* m, float* sum, float* ls,
                 float* e),
                (x, classes, inner, len, m, sum, ls, e))

// d *= f per pixel, over the classes.
ANN_INLINE void scale_tile_impl(float* d, int64_t classes, int64_t inner, int64_t len, const float* f) {
  int64_t j = 0;
  for (; j + W <= len; j += W) {
    const vf fv = load(f + j);
    for (int64_t k = 0; k < classes; ++k) store(d + k * inner + j, load(d + k * inner + j) * fv);
  }
  for (; j < len; ++j)
    for (int64_t k = 0; k < classes; ++k) d[k * inner + j] *= f[j];
}
ANN_SIMD_KERNEL(void, scale_tile, (float* d, int64_t classes, int64_t inner, int64_t len, const float* f),
                (d, classes, inner, len, f))

// The tiles of [batch, inner] pixels: task t covers batch t / tiles, positions j0 .. j0 + len.
struct Tiles {
  int64_t per_batch, count;
  explicit Tiles(const CrossEntropyShape& s)
      : per_batch((s.inner + kTile - 1) / kTile), count(s.batch * per_batch) {}
};

template <class F>
void for_tiles(const CrossEntropyShape& s, const Tiles& tiles, F&& f) {
  const int64_t grain = std::max<int64_t>(1, 16384 / (s.classes * kTile));
  parallel_for(tiles.count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t / tiles.per_batch, j0 = (t % tiles.per_batch) * kTile;
      f(t, b, j0, std::min(kTile, s.inner - j0));
    }
  });
}

inline const float* tile_logits(const CrossEntropyShape& s, const float* logits, int64_t b, int64_t j0) {
  return logits + b * s.classes * s.inner + j0;
}

// The probability each OHEM pixel is judged by; forward and backward must compute it identically.
inline float target_prob(float xt, float m, float ls) { return std::exp((xt - m) - ls); }

double sum_in_order(const double* parts, int64_t n, int64_t stride) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += parts[i * stride];
  return acc;
}

// The OHEM threshold over the target probabilities p of the n > 0 valid pixels (NaN sorts last,
// as in torch.sort); reorders p.
double ohem_threshold(float* p, int64_t n, const OhemOptions& o) {
  const int64_t k = std::min(o.min_kept, n - 1);
  auto less = [](float a, float b) { return a < b || (b != b && a == a); };
  std::nth_element(p, p + k, p + n, less);
  const double v = p[k];
  return o.thresh > v ? o.thresh : v;  // Python's max(v, thresh): NaN stays NaN
}

// Target probabilities of the valid pixels, in pixel order; returns how many.
int64_t valid_probs(const CrossEntropyShape& s, const float* logits, const int32_t* target, float* p_all,
                    float* nll_all, float* valid_p) {
  const Tiles tiles(s);
  for_tiles(s, tiles, [&](int64_t, int64_t b, int64_t j0, int64_t len) {
    float m[kTile], sum[kTile], ls[kTile];
    const float* x = tile_logits(s, logits, b, j0);
    lse_tile(x, s.classes, s.inner, len, m, sum, ls, nullptr);
    const int64_t base = b * s.inner + j0;
    for (int64_t j = 0; j < len; ++j) {
      const int32_t y = target[base + j];
      if (y == s.ignore_index) continue;
      const float xt = x[y * s.inner + j];
      p_all[base + j] = target_prob(xt, m[j], ls[j]);
      if (nll_all) nll_all[base + j] = ls[j] - (xt - m[j]);
    }
  });
  int64_t n = 0;
  for (int64_t i = 0; i < s.pixels(); ++i)
    if (target[i] != s.ignore_index) valid_p[n++] = p_all[i];
  return n;
}

// dlogits = g * (softmax(x) - onehot(y)) per pixel, g = gain(pixel, y, x[y], m, ls) (0 where ignored).
// The exponentials are written once into dlogits and rescaled in place while the tile is in cache.
template <class Gain>
void grad_pass(const CrossEntropyShape& s, const float* logits, const int32_t* target, float* dlogits,
               Gain&& gain) {
  const Tiles tiles(s);
  for_tiles(s, tiles, [&](int64_t, int64_t b, int64_t j0, int64_t len) {
    float m[kTile], sum[kTile], ls[kTile], g[kTile], f[kTile] = {};  // f: GCC cannot see len <= kTile
    const float* x = tile_logits(s, logits, b, j0);
    float* dx = dlogits + b * s.classes * s.inner + j0;
    const int64_t base = b * s.inner + j0;
    lse_tile(x, s.classes, s.inner, len, m, sum, ls, dx);
    for (int64_t j = 0; j < len; ++j) {
      const int32_t y = target[base + j];
      g[j] = y == s.ignore_index ? 0.0f : gain(base + j, y, x[y * s.inner + j], m[j], ls[j]);
      f[j] = g[j] / sum[j];
    }
    scale_tile(dx, s.classes, s.inner, len, f);
    for (int64_t j = 0; j < len; ++j) {
      const int32_t y = target[base + j];
      if (y != s.ignore_index) dx[y * s.inner + j] -= g[j];
    }
  });
}

}  // namespace

int64_t find_bad_target(const int32_t* target, int64_t count, int64_t classes, int64_t ignore_index) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t y = target[i];
    if ((y < 0 || y >= classes) && y != ignore_index) return i;
  }
  return -1;
}

void cross_entropy_forward(const CrossEntropyShape& s, const float* logits, const int32_t* target,
                           const float* weight, Reduction r, float* out) {
  const Tiles tiles(s);
  Buffer<double> parts(r == Reduction::None ? 0 : 2 * static_cast<size_t>(tiles.count));
  for_tiles(s, tiles, [&](int64_t t, int64_t b, int64_t j0, int64_t len) {
    float m[kTile], sum[kTile], ls[kTile];
    const float* x = tile_logits(s, logits, b, j0);
    lse_tile(x, s.classes, s.inner, len, m, sum, ls, nullptr);
    const int64_t base = b * s.inner + j0;
    double sl = 0, sw = 0;
    for (int64_t j = 0; j < len; ++j) {
      const int32_t y = target[base + j];
      float l = 0;
      if (y != s.ignore_index) {
        const float w = weight ? weight[y] : 1.0f;
        l = w * (ls[j] - (x[y * s.inner + j] - m[j]));
        sl += l;
        sw += w;
      }
      if (r == Reduction::None) out[base + j] = l;
    }
    if (r != Reduction::None) parts[2 * t] = sl, parts[2 * t + 1] = sw;
  });
  if (r == Reduction::None) return;
  const double sl = sum_in_order(parts.data(), tiles.count, 2);
  const double sw = sum_in_order(parts.data() + 1, tiles.count, 2);
  out[0] = static_cast<float>(r == Reduction::Sum ? sl : sl / sw);
}

void cross_entropy_backward(const CrossEntropyShape& s, const float* dloss, const float* logits,
                            const int32_t* target, const float* weight, Reduction r, float* dlogits) {
  double scale = r == Reduction::None ? 1.0 : dloss[0];
  if (r == Reduction::Mean) {
    double sw = 0;
    for (int64_t i = 0; i < s.pixels(); ++i)
      if (target[i] != s.ignore_index) sw += weight ? weight[target[i]] : 1.0;
    scale /= sw;  // all weights 0: NaN gradients at valid pixels, as PyTorch
  }
  grad_pass(s, logits, target, dlogits, [&](int64_t pixel, int32_t y, float, float, float) {
    return static_cast<float>((r == Reduction::None ? dloss[pixel] : scale) * (weight ? weight[y] : 1.0f));
  });
}

OhemResult ohem_cross_entropy_forward(const CrossEntropyShape& s, const OhemOptions& o, const float* logits,
                                      const int32_t* target, const float* weight) {
  const int64_t P = s.pixels();
  Buffer<float> p(P), nll(P), valid_p(P);
  OhemResult res;
  res.valid = valid_probs(s, logits, target, p.data(), nll.data(), valid_p.data());
  if (res.valid == 0) {
    res.threshold = o.thresh;  // max(no k-th value, thresh)
    return res;
  }
  res.threshold = ohem_threshold(valid_p.data(), res.valid, o);
  if (std::isnan(res.threshold)) {
    res.loss = std::numeric_limits<float>::quiet_NaN();
    return res;
  }
  // Fixed chunks, summed in order: deterministic whatever the thread count.
  constexpr int64_t kChunk = 8192;
  const int64_t chunks = (P + kChunk - 1) / kChunk;
  Buffer<double> parts(2 * static_cast<size_t>(chunks));
  parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double sl = 0, kept = 0;
      for (int64_t i = c * kChunk, e = std::min(P, i + kChunk); i < e; ++i) {
        const int32_t y = target[i];
        if (y == s.ignore_index || !(double(p[i]) < res.threshold)) continue;
        sl += double(weight ? weight[y] : 1.0f) * nll[i];
        kept += 1;
      }
      parts[2 * c] = sl, parts[2 * c + 1] = kept;
    }
  });
  res.kept = static_cast<int64_t>(sum_in_order(parts.data() + 1, chunks, 2));
  if (res.kept > 0) res.loss = static_cast<float>(sum_in_order(parts.data(), chunks, 2) / double(res.kept));
  return res;
}

void ohem_cross_entropy_backward(const CrossEntropyShape& s, const OhemOptions& o, float dloss,
                                 const float* logits, const int32_t* target, const float* weight,
                                 float* dlogits, const OhemSelection* known) {
  OhemSelection sel;
  if (known) {
    sel = *known;
  } else {
    const int64_t P = s.pixels();
    Buffer<float> p(P), valid_p(P);
    const int64_t valid = valid_probs(s, logits, target, p.data(), nullptr, valid_p.data());
    sel.threshold = valid ? ohem_threshold(valid_p.data(), valid, o) : o.thresh;
    sel.kept = 0;
    for (int64_t i = 0; i < P; ++i)
      if (target[i] != s.ignore_index && double(p[i]) < sel.threshold) ++sel.kept;
  }
  if (sel.kept == 0 || std::isnan(sel.threshold)) {
    const float fill = std::isnan(sel.threshold) ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    std::fill(dlogits, dlogits + s.pixels() * s.classes, fill);
    return;
  }
  const double scale = double(dloss) / double(sel.kept);
  grad_pass(s, logits, target, dlogits, [&](int64_t, int32_t y, float xt, float m, float ls) {
    const bool keep = double(target_prob(xt, m, ls)) < sel.threshold;
    return keep ? static_cast<float>(scale * (weight ? weight[y] : 1.0f)) : 0.0f;
  });
}

}  // namespace ann
