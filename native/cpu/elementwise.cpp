// Pointwise and broadcasting kernels. All are memory-bound: split over the pool in chunks large
// enough that the wake-up cost is small, with plain restrict-qualified loops the compiler vectorises.
#include "ann/elementwise.h"

#include <algorithm>
#include <cstring>

#include "ann/broadcast_layout.h"
#include "parallel.h"

namespace ann {
namespace {

// 64 KiB of floats per chunk: a few microseconds of work, well above the pool's hand-off cost.
constexpr int64_t kGrain = 16384;

template <class F>
void pointwise(int64_t n, F f) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { f(b, e); });
}

using Layout = BroadcastLayout;

template <class F>
inline void inner(F f, const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n,
                  int64_t sa, int64_t sb) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa) {
    const float s = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], s);
  } else if (sb) {
    const float s = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(s, b[i]);
  } else {
    const float v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
}

// Splits the flat output range over the pool; each chunk decodes its first position once and
// then walks rows of the innermost dim with an odometer over the outer dims.
template <class F>
void run_broadcast(const Layout& L, const float* a, const float* b, float* y, F f) {
  const int r = L.rank;
  const int64_t n = L.size[r - 1];
  int64_t total = 1;
  for (int d = 0; d < r; ++d) total *= L.size[d];
  const int64_t ia = L.sa[r - 1], ib = L.sb[r - 1];
  parallel_for(total, kGrain, [&](int64_t begin, int64_t end) {
    int64_t idx[kMaxRank] = {0};
    int64_t row = begin / n, col = begin % n, oa = 0, ob = 0;
    for (int d = r - 2; d >= 0; --d) {
      idx[d] = row % L.size[d];
      row /= L.size[d];
      oa += idx[d] * L.sa[d];
      ob += idx[d] * L.sb[d];
    }
    for (int64_t i = begin; i < end;) {
      const int64_t len = std::min(n - col, end - i);
      inner(f, a + oa + col * ia, b + ob + col * ib, y + i, len, ia, ib);
      i += len;
      col = 0;
      for (int d = r - 2; d >= 0; --d) {
        oa += L.sa[d];
        ob += L.sb[d];
        if (++idx[d] < L.size[d]) break;
        oa -= L.sa[d] * L.size[d];
        ob -= L.sb[d] * L.size[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace

void relu(const float* x, float* y, int64_t n) {
  pointwise(n, [=](int64_t b, int64_t e) {
    const float* __restrict xs = x;
    float* __restrict ys = y;
    // `<= 0` is false for NaN, so NaN passes through as torch.relu does.
    for (int64_t i = b; i < e; ++i) ys[i] = xs[i] <= 0.f ? 0.f : xs[i];
  });
}

void relu_backward(const float* dy, const float* y, float* dx, int64_t n) {
  pointwise(n, [=](int64_t b, int64_t e) {
    const float* __restrict g = dy;
    const float* __restrict ys = y;
    float* __restrict out = dx;
    // Both loads unconditional, so the select becomes a vector blend instead of a branch.
    for (int64_t i = b; i < e; ++i) {
      const float gv = g[i], yv = ys[i];
      out[i] = yv <= 0.f ? 0.f : gv;
    }
  });
}

void affine(const float* x, float alpha, float beta, float* y, int64_t n) {
  pointwise(n, [=](int64_t b, int64_t e) {
    const float* __restrict xs = x;
    float* __restrict ys = y;
    for (int64_t i = b; i < e; ++i) ys[i] = alpha * xs[i] + beta;
  });
}

void axpy_inplace(float* dst, const float* src, float alpha, int64_t n) {
  pointwise(n, [=](int64_t b, int64_t e) {
    float* d = dst;
    const float* s = src;
    if (alpha == 1.f) {
      for (int64_t i = b; i < e; ++i) d[i] += s[i];
    } else {
      for (int64_t i = b; i < e; ++i) d[i] += alpha * s[i];
    }
  });
}

void copy(const float* src, float* dst, int64_t n) {
  if (src == dst) return;
  pointwise(n, [=](int64_t b, int64_t e) {
    std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(float));
  });
}

void fill(float* dst, float value, int64_t n) {
  pointwise(n, [=](int64_t b, int64_t e) {
    float* __restrict d = dst;
    for (int64_t i = b; i < e; ++i) d[i] = value;
  });
}

bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out) {
  const size_t R = std::max(a.size(), b.size());
  Shape s(R);
  for (size_t i = 0; i < R; ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) return false;
    s[R - 1 - i] = da == 1 ? db : da;
  }
  *out = std::move(s);
  return true;
}

void binary(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
            float* y) {
  Shape out;
  if (!broadcast_shapes(a_shape, b_shape, &out)) throw Error("binary: shapes do not broadcast");
  const Layout L = broadcast_layout(a_shape, b_shape, out);
  switch (op) {
    case BinaryOp::Add:
      run_broadcast(L, a, b, y, [](float u, float v) { return u + v; });
      break;
    case BinaryOp::Sub:
      run_broadcast(L, a, b, y, [](float u, float v) { return u - v; });
      break;
    case BinaryOp::Mul:
      run_broadcast(L, a, b, y, [](float u, float v) { return u * v; });
      break;
    case BinaryOp::Div:
      run_broadcast(L, a, b, y, [](float u, float v) { return u / v; });
      break;
  }
}

void broadcast_to(const float* x, const Shape& x_shape, const Shape& shape, float* y) {
  const Layout L = broadcast_layout(x_shape, Shape{1}, shape);
  run_broadcast(L, x, x, y, [](float u, float) { return u; });
}

void channel_scale(const float* x, const float* scale, int64_t channels, int64_t inner_n, float* y) {
  const int64_t grain = std::max<int64_t>(1, kGrain / inner_n);
  parallel_for(channels, grain, [=](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float s = scale[c];
      const float* __restrict xs = x + c * inner_n;
      float* __restrict ys = y + c * inner_n;
      for (int64_t i = 0; i < inner_n; ++i) ys[i] = xs[i] * s;
    }
  });
}

namespace {
// splitmix64's finaliser: a bijective mix with full avalanche, the standard counter-based hash.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

void dropout_mask(uint64_t seed, double p, int64_t channels, float* mask) {
  const float keep = p >= 1.0 ? 0.f : static_cast<float>(1.0 / (1.0 - p));
  const uint64_t key = mix64(seed + 0x9e3779b97f4a7c15ULL);
  for (int64_t i = 0; i < channels; ++i) {
    // 53 random bits -> u uniform in [0, 1); dropped when u < p (so p = 0 keeps all, p = 1 none).
    const uint64_t h = mix64(key ^ mix64(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL + 1));
    const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
    mask[i] = u < p ? 0.f : keep;
  }
}

}  // namespace ann
