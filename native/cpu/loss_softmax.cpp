// Softmax, log-softmax and argmax over the middle axis of [outer, n, inner].
// inner > 1 (NCHW channels): tiles of consecutive inner positions, each handled 8 columns at a
// time with the running max and sum in registers; a tile of n rows stays in L1 across the passes.
// inner == 1 (last axis): one contiguous row at a time, reduced in 8 lanes.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ann/loss.h"
#include "loss_simd.h"
#include "parallel.h"

namespace ann {
namespace {

using namespace simd;

constexpr int64_t kTile = 256;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Runs f(o, j0, len) over tiles of the inner axis, in parallel.
template <class F>
void for_tiles(int64_t outer, int64_t n, int64_t inner, F&& f) {
  const int64_t tiles = (inner + kTile - 1) / kTile;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n * kTile));
  parallel_for(outer * tiles, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t o = t / tiles, j0 = (t % tiles) * kTile;
      f(o, j0, std::min(kTile, inner - j0));
    }
  });
}

template <class F>
void for_rows(int64_t outer, int64_t n, F&& f) {
  parallel_for(outer, std::max<int64_t>(1, 16384 / n), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) f(o);
  });
}

ANN_INLINE void softmax_tile_impl(const float* x, float* y, int64_t n, int64_t inner, int64_t len, bool log) {
  int64_t j = 0;
  for (; j + W <= len; j += W) {
    vf m = splat(kNegInf), s = splat(0);
    for (int64_t k = 0; k < n; ++k) m = max_into(load(x + k * inner + j), m);
    for (int64_t k = 0; k < n; ++k) {
      const vf e = exp_nonpos(load(x + k * inner + j) - m);
      store(y + k * inner + j, e);
      s += e;
    }
    if (log) {
      vf ls;
      for (int64_t l = 0; l < W; ++l) ls[l] = std::log(s[l]);
      for (int64_t k = 0; k < n; ++k) store(y + k * inner + j, (load(x + k * inner + j) - m) - ls);
    } else {
      const vf inv = 1.0f / s;
      for (int64_t k = 0; k < n; ++k) store(y + k * inner + j, load(y + k * inner + j) * inv);
    }
  }
  for (; j < len; ++j) {
    float m = kNegInf, s = 0;
    for (int64_t k = 0; k < n; ++k) m = x[k * inner + j] > m ? x[k * inner + j] : m;
    for (int64_t k = 0; k < n; ++k) s += (y[k * inner + j] = scalar_exp_nonpos(x[k * inner + j] - m));
    if (log) {
      const float ls = std::log(s);
      for (int64_t k = 0; k < n; ++k) y[k * inner + j] = (x[k * inner + j] - m) - ls;
    } else {
      const float inv = 1.0f / s;
      for (int64_t k = 0; k < n; ++k) y[k * inner + j] *= inv;
    }
  }
}
ANN_SIMD_KERNEL(void, softmax_tile,
                (const float* x, float* y, int64_t n, int64_t inner, int64_t len, bool log),
                (x, y, n, inner, len, log))

ANN_INLINE void softmax_row_impl(const float* x, float* y, int64_t n, bool log) {
  const int64_t nv = n / W * W;
  vf mv = splat(kNegInf);
  for (int64_t i = 0; i < nv; i += W) mv = max_into(load(x + i), mv);
  float m = hmax(mv, kNegInf);
  for (int64_t i = nv; i < n; ++i) m = x[i] > m ? x[i] : m;
  const vf mb = splat(m);
  vf sv = splat(0);
  for (int64_t i = 0; i < nv; i += W) {
    const vf e = exp_nonpos(load(x + i) - mb);
    store(y + i, e);
    sv += e;
  }
  float s = hsum(sv);
  for (int64_t i = nv; i < n; ++i) s += (y[i] = scalar_exp_nonpos(x[i] - m));
  if (log) {
    const float ls = std::log(s);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - ls;
  } else {
    const float inv = 1.0f / s;
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}
ANN_SIMD_KERNEL(void, softmax_row, (const float* x, float* y, int64_t n, bool log), (x, y, n, log))

ANN_INLINE void softmax_backward_tile_impl(const float* dy, const float* y, float* dx, int64_t n,
                                           int64_t inner, int64_t len, bool log) {
  int64_t j = 0;
  for (; j + W <= len; j += W) {
    vf s = splat(0);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = k * inner + j;
      s += log ? load(dy + at) : load(dy + at) * load(y + at);
    }
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = k * inner + j;
      const vf g = load(dy + at), yk = load(y + at);
      store(dx + at, log ? g - exp_nonpos(yk) * s : yk * (g - s));
    }
  }
  for (; j < len; ++j) {
    float s = 0;
    for (int64_t k = 0; k < n; ++k) s += log ? dy[k * inner + j] : dy[k * inner + j] * y[k * inner + j];
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = k * inner + j;
      dx[at] = log ? dy[at] - scalar_exp_nonpos(y[at]) * s : y[at] * (dy[at] - s);
    }
  }
}
ANN_SIMD_KERNEL(void, softmax_backward_tile,
                (const float* dy, const float* y, float* dx, int64_t n, int64_t inner, int64_t len, bool log),
                (dy, y, dx, n, inner, len, log))

ANN_INLINE void softmax_backward_row_impl(const float* dy, const float* y, float* dx, int64_t n, bool log) {
  const int64_t nv = n / W * W;
  vf sv = splat(0);
  for (int64_t i = 0; i < nv; i += W) sv += log ? load(dy + i) : load(dy + i) * load(y + i);
  float s = hsum(sv);
  for (int64_t i = nv; i < n; ++i) s += log ? dy[i] : dy[i] * y[i];
  const vf sb = splat(s);
  for (int64_t i = 0; i < nv; i += W) {
    const vf g = load(dy + i), yi = load(y + i);
    store(dx + i, log ? g - exp_nonpos(yi) * sb : yi * (g - sb));
  }
  for (int64_t i = nv; i < n; ++i) dx[i] = log ? dy[i] - scalar_exp_nonpos(y[i]) * s : y[i] * (dy[i] - s);
}
ANN_SIMD_KERNEL(void, softmax_backward_row, (const float* dy, const float* y, float* dx, int64_t n, bool log),
                (dy, y, dx, n, log))

// Strictly greater keeps the first maximum; the first NaN wins and is never replaced.
ANN_INLINE void argmax_tile_impl(const float* x, int32_t* idx, int64_t n, int64_t inner, int64_t len) {
  int64_t j = 0;
  for (; j + W <= len; j += W) {
    vf best = load(x + j);
    vi at = splat_i(0);
    for (int64_t k = 1; k < n; ++k) {
      const vf v = load(x + k * inner + j);
      const vi take = (v > best) | ((v != v) & (best == best));
      best = take ? v : best;
      at = take ? splat_i(static_cast<int32_t>(k)) : at;
    }
    std::memcpy(idx + j, &at, sizeof at);
  }
  for (; j < len; ++j) {
    float best = x[j];
    int32_t at = 0;
    for (int64_t k = 1; k < n; ++k) {
      const float v = x[k * inner + j];
      if (v > best || (v != v && best == best)) best = v, at = static_cast<int32_t>(k);
    }
    idx[j] = at;
  }
}
ANN_SIMD_KERNEL(void, argmax_tile, (const float* x, int32_t* idx, int64_t n, int64_t inner, int64_t len),
                (x, idx, n, inner, len))

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (inner == 1) {
    for_rows(outer, n, [&](int64_t o) { softmax_row(x + o * n, y + o * n, n, log); });
    return;
  }
  for_tiles(outer, n, inner, [&](int64_t o, int64_t j0, int64_t len) {
    const int64_t off = o * n * inner + j0;
    softmax_tile(x + off, y + off, n, inner, len, log);
  });
}

void softmax_backward(const float* dy, const float* y, float* dx, int64_t outer, int64_t n, int64_t inner,
                      bool log) {
  if (inner == 1) {
    for_rows(outer, n, [&](int64_t o) { softmax_backward_row(dy + o * n, y + o * n, dx + o * n, n, log); });
    return;
  }
  for_tiles(outer, n, inner, [&](int64_t o, int64_t j0, int64_t len) {
    const int64_t off = o * n * inner + j0;
    softmax_backward_tile(dy + off, y + off, dx + off, n, inner, len, log);
  });
}

void argmax(const float* x, int32_t* idx, int64_t outer, int64_t n, int64_t inner) {
  for_tiles(outer, n, inner, [&](int64_t o, int64_t j0, int64_t len) {
    argmax_tile(x + o * n * inner + j0, idx + o * inner + j0, n, inner, len);
  });
}

}  // namespace ann
