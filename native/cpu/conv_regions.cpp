#include "conv_regions.h"

#include <algorithm>
#include <cstring>

#include "parallel.h"
#include "simd.h"

namespace ann {
namespace {

// The region's columns [lo, hi) (counted from ow0) whose tap kj lies inside the input: all of them,
// except in the whole-plane region.
ANN_INLINE void valid_columns(const Conv2dShape& s, const ConvRegion& r, int64_t kj, int64_t* lo,
                              int64_t* hi) {
  const int64_t sw = s.stride_w, off = r.ow0 * sw - s.pad_w + kj * s.dilation_w, n = r.ow1 - r.ow0;
  int64_t l = off >= 0 ? 0 : (-off + sw - 1) / sw;
  int64_t h = (s.width - 1 - off) < 0 ? 0 : (s.width - 1 - off) / sw + 1;
  l = std::min(l, n);
  *lo = l;
  *hi = std::max(l, std::min(h, n));
}

ANN_INLINE void im2col_rows_impl(const Conv2dShape& s, const ConvRegion& r, const float* __restrict x,
                                 float* __restrict cols, int64_t r0, int64_t r1) {
  const int64_t H = s.height, W = s.width, Cin = s.in_channels, nkj = r.kj1 - r.kj0;
  const int64_t rw = r.ow1 - r.ow0, sw = s.stride_w;
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t c = r.whole ? row / r.taps() : row % Cin, tap = r.whole ? row % r.taps() : row / Cin;
    const int64_t ki = r.ki0 + tap / nkj, kj = r.kj0 + tap % nkj;
    const float* plane = x + c * H * W;
    float* out = cols + row * r.size();
    const int64_t iw0 = r.ow0 * sw - s.pad_w + kj * s.dilation_w;
    int64_t lo, hi;
    valid_columns(s, r, kj, &lo, &hi);
    for (int64_t oh = r.oh0; oh < r.oh1; ++oh, out += rw) {
      const int64_t ih = oh * s.stride_h - s.pad_h + ki * s.dilation_h;
      if (ih < 0 || ih >= H) {  // only in the whole-plane region
        std::fill(out, out + rw, 0.0f);
        continue;
      }
      const float* in = plane + ih * W + iw0;
      std::fill(out, out + lo, 0.0f);
      if (sw == 1) {
        std::memcpy(out + lo, in + lo, sizeof(float) * (hi - lo));
      } else {
        for (int64_t j = lo; j < hi; ++j) out[j] = in[j * sw];
      }
      std::fill(out + hi, out + rw, 0.0f);
    }
  }
}
ANN_SIMD_KERNEL(void, im2col_rows,
                (const Conv2dShape& s, const ConvRegion& r, const float* __restrict x, float* __restrict cols,
                 int64_t r0, int64_t r1),
                (s, r, x, cols, r0, r1))

ANN_INLINE void col2im_channels_impl(const Conv2dShape& s, const ConvRegion& r, const float* __restrict cols,
                                     float* __restrict dx, int64_t c0, int64_t c1) {
  const int64_t H = s.height, W = s.width, Cin = s.in_channels, nkj = r.kj1 - r.kj0;
  const int64_t rw = r.ow1 - r.ow0, sw = s.stride_w;
  for (int64_t c = c0; c < c1; ++c) {
    float* plane = dx + c * H * W;
    for (int64_t tap = 0; tap < r.taps(); ++tap) {
      const int64_t ki = r.ki0 + tap / nkj, kj = r.kj0 + tap % nkj;
      const float* in = cols + (r.whole ? c * r.taps() + tap : tap * Cin + c) * r.size();
      const int64_t iw0 = r.ow0 * sw - s.pad_w + kj * s.dilation_w;
      int64_t lo, hi;
      valid_columns(s, r, kj, &lo, &hi);
      for (int64_t oh = r.oh0; oh < r.oh1; ++oh, in += rw) {
        const int64_t ih = oh * s.stride_h - s.pad_h + ki * s.dilation_h;
        if (ih < 0 || ih >= H) continue;
        float* __restrict out = plane + ih * W + iw0;
        if (sw == 1) {
          for (int64_t j = lo; j < hi; ++j) out[j] += in[j];
        } else {
          for (int64_t j = lo; j < hi; ++j) out[j * sw] += in[j];
        }
      }
    }
  }
}
ANN_SIMD_KERNEL(void, col2im_channels,
                (const Conv2dShape& s, const ConvRegion& r, const float* __restrict cols,
                 float* __restrict dx, int64_t c0, int64_t c1),
                (s, r, cols, dx, c0, c1))

// Skipping pays only where most taps fall in the padding (a 3x3 dilation-4 conv on an 8x8 map:
// 56%): each region costs its own GEMMs, each of which packs its block of the weight again, and a
// copy of its output and dy. Measured on this project's shapes (bench/RESULTS.md, issue 10): 31%
// skipped (dilation 2 on 8x8) ran slower than the whole plane, 8% (dilation 4 on 65x65) level.
constexpr double kMinSkipped = 0.5;

// Enough floats per work item that the pool's hand-off is worth it.
int64_t grain(int64_t per_item) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(per_item, 1)); }

}  // namespace

std::vector<Band> axis_bands(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  std::vector<Band> bands;
  for (int64_t o = 0; o < out; ++o) {
    int64_t klo = k, khi = 0;
    for (int64_t t = 0; t < k; ++t) {
      const int64_t i = o * stride - pad + t * dil;
      if (i >= 0 && i < in) {
        klo = std::min(klo, t);
        khi = t + 1;
      }
    }
    if (klo >= khi) klo = khi = 0;
    if (!bands.empty() && bands.back().klo == klo && bands.back().khi == khi) {
      bands.back().hi = o + 1;
    } else {
      bands.push_back({o, o + 1, klo, khi});
    }
  }
  return bands;
}

std::vector<ConvRegion> conv_regions(const Conv2dShape& s) {
  const auto rows = axis_bands(s.height, s.out_height(), s.kernel_h, s.stride_h, s.pad_h, s.dilation_h);
  const auto cols = axis_bands(s.width, s.out_width(), s.kernel_w, s.stride_w, s.pad_w, s.dilation_w);
  auto kept = [](const std::vector<Band>& bands) {
    double n = 0;
    for (const Band& b : bands) n += static_cast<double>(b.hi - b.lo) * (b.khi - b.klo);
    return n;
  };
  const double all = static_cast<double>(s.out_height()) * s.kernel_h * s.out_width() * s.kernel_w;
  if (all > 0 && 1.0 - kept(rows) * kept(cols) / all < kMinSkipped)
    return {{0, s.out_height(), 0, s.out_width(), 0, s.kernel_h, 0, s.kernel_w, true}};
  std::vector<ConvRegion> out;
  for (const Band& a : rows)
    for (const Band& b : cols) out.push_back({a.lo, a.hi, b.lo, b.hi, a.klo, a.khi, b.klo, b.khi, false});
  return out;
}

std::vector<TapBlock> tap_blocks(const Conv2dShape& s, const ConvRegion& r) {
  const int64_t Cin = s.in_channels, kw = s.kernel_w, nkj = r.kj1 - r.kj0;
  std::vector<TapBlock> blocks;
  if (r.taps() == 0) return blocks;
  if (r.whole) {
    blocks.push_back({0, 0, r.taps() * Cin});
  } else if (nkj == kw) {
    blocks.push_back({0, r.ki0 * kw * Cin, (r.ki1 - r.ki0) * kw * Cin});
  } else {
    for (int64_t ki = r.ki0; ki < r.ki1; ++ki)
      blocks.push_back({(ki - r.ki0) * nkj * Cin, (ki * kw + r.kj0) * Cin, nkj * Cin});
  }
  return blocks;
}

void conv_weight_taps_first(const Conv2dShape& s, const float* w, float* wt) {
  const int64_t Cin = s.in_channels, taps = s.kernel_h * s.kernel_w, K = Cin * taps;
  parallel_for(s.out_channels, grain(K), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < Cin; ++c)
        for (int64_t t = 0; t < taps; ++t) wt[o * K + t * Cin + c] = w[o * K + c * taps + t];
  });
}

void conv_weight_from_parts(const Conv2dShape& s, const float* parts, int64_t n_parts, bool taps_first,
                            float* dw) {
  const int64_t Cin = s.in_channels, taps = s.kernel_h * s.kernel_w, K = Cin * taps;
  const int64_t total = s.out_channels * K;
  parallel_for(s.out_channels, grain(K), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < Cin; ++c)
        for (int64_t t = 0; t < taps; ++t) {
          const int64_t at = o * K + (taps_first ? t * Cin + c : c * taps + t);
          // Parts added in run order, as the per-run sums they are.
          float acc = parts[at];
          for (int64_t p = 1; p < n_parts; ++p) acc += parts[p * total + at];
          dw[o * K + c * taps + t] = acc;
        }
  });
}

void im2col_region(const Conv2dShape& s, const ConvRegion& r, const float* x, float* cols) {
  parallel_for(r.taps() * s.in_channels, grain(r.size()),
               [&](int64_t r0, int64_t r1) { im2col_rows(s, r, x, cols, r0, r1); });
}

void col2im_region(const Conv2dShape& s, const ConvRegion& r, const float* cols, float* dx) {
  parallel_for(s.in_channels, grain(r.size() * r.taps()),
               [&](int64_t c0, int64_t c1) { col2im_channels(s, r, cols, dx, c0, c1); });
}

void scatter_region(const Conv2dShape& s, const ConvRegion& r, const float* part, const float* bias,
                    float* y) {
  const int64_t N = s.out_height() * s.out_width(), Wo = s.out_width(), rw = r.ow1 - r.ow0, n = r.size();
  parallel_for(s.out_channels, grain(n), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float b = bias ? bias[o] : 0.0f;
      for (int64_t oh = r.oh0; oh < r.oh1; ++oh) {
        float* out = y + o * N + oh * Wo + r.ow0;
        if (part) {
          const float* in = part + o * n + (oh - r.oh0) * rw;
          for (int64_t j = 0; j < rw; ++j) out[j] = in[j] + b;
        } else {
          std::fill(out, out + rw, b);
        }
      }
    }
  });
}

void gather_region(const Conv2dShape& s, const ConvRegion& r, const float* dy, float* part) {
  const int64_t N = s.out_height() * s.out_width(), Wo = s.out_width(), rw = r.ow1 - r.ow0, n = r.size();
  parallel_for(s.out_channels, grain(n), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t oh = r.oh0; oh < r.oh1; ++oh)
        std::memcpy(part + o * n + (oh - r.oh0) * rw, dy + o * N + oh * Wo + r.ow0, sizeof(float) * rw);
  });
}

}  // namespace ann
