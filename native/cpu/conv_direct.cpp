// The direct convolution (conv_direct.h). Per call: x is turned pixel-major [B, H, W, C], the weight
// packed as [Cout blocks][kh][kw][C][block] (Cout padded to whole blocks of vectors), the output
// accumulated pixel-major and turned back into NCHW with the bias. The output pixels are grouped by
// the taps they see inside the input (row classes x column classes, across the batch) and each group
// is cut into tiles of P pixels; a tile x one Cout block is one register tile, P x V vectors, fed by
// one broadcast of x per pixel and channel and V weight vectors per channel.
#include "conv_direct.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "alloc.h"
#include "conv_regions.h"
#include "parallel.h"
#include "simd.h"

// Vector arguments of the always-inlined helpers never cross a real call boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ann {
namespace {

// Planes up to this many pixels (output, and input for the data gradient) go direct. At 32x32 (16
// channels, batch 8) the direct kernel still wins, 1.2-1.4 ms fwd+bwd against 1.8-1.9 on the GEMM
// path (bench kernels conv, two threads); 65x65 was not tried direct: there OpenBLAS already runs at
// 90-100% of its sgemm rate.
constexpr int64_t kMaxPlane = 1024;

// A stride-1 convolution as the kernel sees it: x [B, C, H, W] -> y [B, O, Ho, Wo].
struct Geometry {
  int64_t B, C, H, W, O, kh, kw, ph, pw, dh, dw, Ho, Wo;
};

// The taps [ki0, ki1) x [kj0, kj1) inside the input, the same for every pixel of a group.
struct Taps {
  int64_t ki0, ki1, kj0, kj1;
};

// Vector length (floats), Cout vectors per tile and pixels per tile: P x V accumulators and V
// weight vectors fit the registers of the level (32 zmm; 16 ymm or xmm).
// `wide`: the products are summed in double (the tile then holds half the pixels).
struct Blocking {
  int vl, v, p;
  bool wide;
};

constexpr int max_vectors(int vl) { return vl == 16 ? 4 : 3; }
constexpr int tile_pixels(int vl, int v, bool wide) {
  const int p = vl == 16 ? (v == 1 ? 16 : v == 2 ? 12 : v == 3 ? 8 : 6) : (v == 1 ? 12 : v == 2 ? 6 : 4);
  return wide ? p / 2 : p;
}

int vector_length() {
#ifdef ANN_SIMD_X86
  switch (simd::level()) {
    case simd::Level::Avx512:
      return 16;
    case simd::Level::Avx2:
      return 8;
    default:
      return 4;
  }
#else
  return 4;
#endif
}

// The most vectors per tile that wastes the fewest padded Cout lanes.
Blocking blocking(int64_t O, bool wide) {
  const int vl = vector_length();
  const int64_t vectors = (O + vl - 1) / vl;
  int best = 1;
  int64_t best_waste = vectors;
  for (int v = max_vectors(vl); v >= 1; --v) {
    const int64_t waste = (vectors + v - 1) / v * v - vectors;
    if (waste < best_waste) best = v, best_waste = waste;
  }
  return {vl, best, tile_pixels(vl, best, wide), wide};
}

// The tiles: per tile its group, its pixel count n <= P, and per pixel (P slots; a short tile
// repeats its last pixel, computed again and not stored) the offset in pixel-major x of its first
// tap and its output pixel.
struct Plan {
  Geometry g;
  Blocking k;
  int64_t blocks, ldy;  // Cout blocks of k.v * k.vl; the pixel-major output's row length
  std::vector<Taps> groups;
  std::vector<int64_t> group, count, xo, yo;

  Plan(const Geometry& geo, const Blocking& blk) : g(geo), k(blk) {
    blocks = (g.O + k.v * k.vl - 1) / (k.v * k.vl);
    ldy = blocks * k.v * k.vl;
    // Stride 1: rows (columns) with the same taps are one contiguous band.
    const auto rows = axis_bands(g.H, g.Ho, g.kh, 1, g.ph, g.dh),
               cols = axis_bands(g.W, g.Wo, g.kw, 1, g.pw, g.dw);
    for (const Band& rb : rows)
      for (const Band& cb : cols) {
        const Taps t{rb.klo, rb.khi, cb.klo, cb.khi};
        const bool empty = t.ki0 == t.ki1 || t.kj0 == t.kj1;
        const int64_t id = static_cast<int64_t>(groups.size());
        groups.push_back(t);
        int64_t n = 0;
        for (int64_t b = 0; b < g.B; ++b)
          for (int64_t oh = rb.lo; oh < rb.hi; ++oh)
            for (int64_t ow = cb.lo; ow < cb.hi; ++ow) {
              if (n == k.p) n = 0;
              if (n == 0) {
                group.push_back(id);
                count.push_back(0);
              }
              const int64_t ih = oh - g.ph + t.ki0 * g.dh, iw = ow - g.pw + t.kj0 * g.dw;
              xo.push_back(empty ? 0 : ((b * g.H + ih) * g.W + iw) * g.C);
              yo.push_back((b * g.Ho + oh) * g.Wo + ow);
              ++count.back();
              ++n;
            }
        for (; n > 0 && n < k.p; ++n) {
          xo.push_back(xo.back());
          yo.push_back(yo.back());
        }
      }
  }
  int64_t tiles() const { return static_cast<int64_t>(group.size()); }
};

// Sums are formed in float in the registers over runs of about kChunkTerms products (whole taps
// of the channels; in the weight gradient whole output rows, kChunkPixels), and these partial sums
// are added in double in memory. With a single float chain per output the small parity networks'
// batch-norm gradients went past twice PyTorch's error (the backbone's r50 at 2 channels: 1.2x the
// allowance, where an exact forward gave 0.1-0.5x). A flush per tap at 16 channels cost about a
// third of the products' time.
constexpr int64_t kChunkTerms = 64, kChunkPixels = 64;
// Below this many channels a tap's few products are summed in double outright: there the flush
// costs about what the float products do, and the float chains, short as they are, still left the
// r50 parity network (2 channels) at 1.04x its batch-norm allowance under OpenBLAS Haswell (an
// exact forward: 0.3x).
constexpr int64_t kWideBelow = 8;

template <int VL>
struct Vec {
  typedef float type __attribute__((vector_size(VL * 4)));
  typedef double wide __attribute__((vector_size(VL * 8)));
};

template <int P, int V, typename A>
ANN_INLINE void clear(A (&acc)[P][V]) {
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[p][v] = A{};
}

// rows[p] (p < n, V * VL doubles each) = acc[p] when first, else rows[p] + acc[p]; acc cleared.
template <int VL, int P, int V, typename A>
ANN_INLINE void flush(A (&acc)[P][V], double* const (&rows)[P], int64_t n, bool first) {
  using vd = typename Vec<VL>::wide;
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
    if (p < n)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        vd total = __builtin_convertvector(acc[p][v], vd);
        if (!first) {
          vd old;
          std::memcpy(&old, rows[p] + v * VL, sizeof(vd));
          total = old + total;
        }
        std::memcpy(rows[p] + v * VL, &total, sizeof(vd));
      }
  clear<P, V>(acc);
}

// One register tile: y rows yo[0..n) (each ldy long, from this Cout block's first column) = the sum
// over the group's taps and the C channels of x at the pixel's tap times the block's weights.
template <int VL, int P, int V, bool Wide>
ANN_INLINE void tile(const Geometry& g, const Taps& t, const float* x, const int64_t* xo, const float* w,
                     double* y, const int64_t* yo, int64_t n, int64_t ldy) {
  using vf = typename Vec<VL>::type;
  using vd = typename Vec<VL>::wide;
  using A = std::conditional_t<Wide, vd, vf>;
  constexpr int NB = VL * V;
  double* rows[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) rows[p] = y + yo[p] * ldy;
  A acc[P][V];
  clear<P, V>(acc);
  const int64_t chunk = std::max<int64_t>(1, kChunkTerms / g.C);
  int64_t pending = 0;
  bool first = true;
  for (int64_t ki = t.ki0; ki < t.ki1; ++ki)
    for (int64_t kj = t.kj0; kj < t.kj1; ++kj) {
      const int64_t shift = ((ki - t.ki0) * g.dh * g.W + (kj - t.kj0) * g.dw) * g.C;
      const float* wk = w + (ki * g.kw + kj) * g.C * NB;
      const float* xp[P];
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) xp[p] = x + xo[p] + shift;
      for (int64_t c = 0; c < g.C; ++c) {
        A wv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) {
          vf f;
          std::memcpy(&f, wk + c * NB + v * VL, sizeof(vf));
          if constexpr (Wide)
            wv[v] = __builtin_convertvector(f, vd);
          else
            wv[v] = f;
        }
#pragma GCC unroll 16
        for (int p = 0; p < P; ++p) {
          // a broadcast (x - 0 is x, signed zeros included)
          A xb;
          if constexpr (Wide)
            xb = static_cast<double>(xp[p][c]) - vd{};
          else
            xb = xp[p][c] - vf{};
#pragma GCC unroll 4
          for (int v = 0; v < V; ++v) acc[p][v] += xb * wv[v];
        }
      }
      if (++pending == chunk) {
        flush<VL, P, V>(acc, rows, n, first);
        first = false;
        pending = 0;
      }
    }
  if (pending > 0 || first) flush<VL, P, V>(acc, rows, n, first);  // first: no taps inside x, zeros
}

// Work items [i0, i1): item i is Cout block i / tiles and tile i % tiles.
template <int VL, int V, bool Wide>
ANN_INLINE void run_items(const Plan& pl, const float* x, const float* w, double* y, int64_t i0, int64_t i1) {
  constexpr int P = tile_pixels(VL, V, Wide), NB = VL * V;
  const Geometry& g = pl.g;
  const int64_t nt = pl.tiles(), wblock = g.kh * g.kw * g.C * NB;
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t cb = i / nt, t = i % nt;
    tile<VL, P, V, Wide>(g, pl.groups[pl.group[t]], x, pl.xo.data() + t * P, w + cb * wblock, y + cb * NB,
                         pl.yo.data() + t * P, pl.count[t], pl.ldy);
  }
}

// One weight-gradient tile of tap (ki, kj): dw rows [ci0, ci0 + n) (each ldw long, from this Cout
// block's first column) = the sum over the tap's output pixels of x at the pixel's tap (channels
// ci0..) times dy at the pixel (the block's channels), in chunks of whole output rows.
template <int VL, int P, int V>
ANN_INLINE void weight_tile(const Geometry& g, int64_t ki, int64_t kj, const float* x, const float* dy,
                            int64_t ldy, double* dw, int64_t n, int64_t ldw) {
  using vf = typename Vec<VL>::type;
  const int64_t oh0 = std::max<int64_t>(0, g.ph - ki * g.dh), oh1 = std::min(g.Ho, g.H + g.ph - ki * g.dh);
  const int64_t ow0 = std::max<int64_t>(0, g.pw - kj * g.dw), ow1 = std::min(g.Wo, g.W + g.pw - kj * g.dw);
  double* rows[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) rows[p] = dw + p * ldw;
  vf acc[P][V];
  clear<P, V>(acc);
  int64_t pending = 0;
  bool first = true;
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const float* d = dy + ((b * g.Ho + oh) * g.Wo + ow0) * ldy;
      const float* xr = x + ((b * g.H + oh - g.ph + ki * g.dh) * g.W + ow0 - g.pw + kj * g.dw) * g.C;
      for (int64_t ow = ow0; ow < ow1; ++ow, d += ldy, xr += g.C) {
        vf dv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) std::memcpy(&dv[v], d + v * VL, sizeof(vf));
#pragma GCC unroll 16
        for (int p = 0; p < P; ++p) {
          const vf xb = xr[p] - vf{};
#pragma GCC unroll 4
          for (int v = 0; v < V; ++v) acc[p][v] += xb * dv[v];
        }
      }
      pending += ow1 - ow0;
      if (pending >= kChunkPixels) {
        flush<VL, P, V>(acc, rows, n, first);
        first = false;
        pending = 0;
      }
    }
  if (pending > 0 || first) flush<VL, P, V>(acc, rows, n, first);
}

// Weight-gradient items [i0, i1): item i is ((tap * blocks) + Cout block) * ci_tiles + channel tile.
template <int VL, int V>
ANN_INLINE void weight_items(const Geometry& g, int64_t blocks, const float* x, const float* dy, int64_t ldy,
                             double* dw, int64_t i0, int64_t i1) {
  constexpr int P = tile_pixels(VL, V, false), NB = VL * V;
  const int64_t ci_tiles = (g.C + P - 1) / P, ldw = blocks * NB;
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t ct = i % ci_tiles, cb = (i / ci_tiles) % blocks, tap = i / (ci_tiles * blocks);
    const int64_t ci0 = ct * P;
    weight_tile<VL, P, V>(g, tap / g.kw, tap % g.kw, x + ci0, dy + cb * NB, ldy,
                          dw + (tap * g.C + ci0) * ldw + cb * NB, std::min<int64_t>(P, g.C - ci0), ldw);
  }
}

// Runs op.template go<VL, V>() for vector length vl (that of the SIMD level) and V = v, compiled
// for the level: the tiles inline into one function per level.
template <int VL, typename Op>
ANN_INLINE void with_vectors(Op& op, int v) {
  switch (v) {
    case 1:
      return op.template go<VL, 1>();
    case 2:
      return op.template go<VL, 2>();
    case 3:
      return op.template go<VL, 3>();
    default:
      if constexpr (max_vectors(VL) >= 4) return op.template go<VL, 4>();
  }
}

#ifdef ANN_SIMD_X86
template <typename Op>
__attribute__((target("avx512f,fma"))) void at_avx512(Op& op, int v) {
  with_vectors<16>(op, v);
}
template <typename Op>
__attribute__((target("avx2,fma"))) void at_avx2(Op& op, int v) {
  with_vectors<8>(op, v);
}
#endif

template <typename Op>
void dispatch(Op& op, const Blocking& k) {
#ifdef ANN_SIMD_X86
  if (k.vl == 16) return at_avx512(op, k.v);
  if (k.vl == 8) return at_avx2(op, k.v);
#endif
  with_vectors<4>(op, k.v);
}

struct ForwardItems {
  const Plan& pl;
  const float *x, *w;
  double* y;
  int64_t i0, i1;
  template <int VL, int V>
  ANN_INLINE void go() {
    if (pl.k.wide)
      run_items<VL, V, true>(pl, x, w, y, i0, i1);
    else
      run_items<VL, V, false>(pl, x, w, y, i0, i1);
  }
};

struct WeightItems {
  const Geometry& g;
  int64_t blocks;
  const float *x, *dy;
  int64_t ldy;
  double* dw;
  int64_t i0, i1;
  template <int VL, int V>
  ANN_INLINE void go() {
    weight_items<VL, V>(g, blocks, x, dy, ldy, dw, i0, i1);
  }
};

// xt [B, H * W, C] (pixel-major) from x [B, C, H, W]; rows ld long (the columns past C zero).
void to_pixel_major(int64_t B, int64_t C, int64_t HW, const float* x, float* xt, int64_t ld) {
  parallel_for(B * HW, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* xb = x + (i / HW) * C * HW + i % HW;
      float* row = xt + i * ld;
      for (int64_t c = 0; c < C; ++c) row[c] = xb[c * HW];
      std::fill(row + C, row + ld, 0.0f);
    }
  });
}

// y [B, O, Ho, Wo] = conv(x [B, C, H, W]) + bias, the weight read as weight_at(o, c, ki, kj).
// wp [Cout blocks][kh][kw][C][block] from w: the forward's [O, C, kh, kw], or, `flipped`, the
// layer's weight [C, O, kh, kw] for its data gradient (the kernel turned by 180 degrees). A block's
// taps of one channel are gathered in a small buffer first: written straight, the stores of one
// weight row land taps * C * block floats apart and thrash the L1 (a fifth of a call's time).
void pack_weight(const Geometry& g, const float* w, bool flipped, int64_t NB, int64_t blocks, float* wp) {
  const int64_t taps = g.kh * g.kw;
  parallel_for(blocks * g.C, 8, [&](int64_t r0, int64_t r1) {
    std::vector<float> part(static_cast<size_t>(taps * NB));
    for (int64_t r = r0; r < r1; ++r) {  // r = block * C + c
      const int64_t cb = r / g.C, c = r % g.C;
      for (int64_t j = 0; j < NB; ++j) {
        const int64_t o = cb * NB + j;
        const float* src = w + (flipped ? c * g.O + o : o * g.C + c) * taps;
        for (int64_t tap = 0; tap < taps; ++tap)
          part[(flipped ? taps - 1 - tap : tap) * NB + j] = o < g.O ? src[tap] : 0.0f;
      }
      for (int64_t tap = 0; tap < taps; ++tap)
        std::copy(part.begin() + tap * NB, part.begin() + (tap + 1) * NB,
                  wp + ((cb * taps + tap) * g.C + c) * NB);
    }
  });
}

// y [B, O, Ho, Wo] = conv(x [B, C, H, W]) + bias, the weight packed by pack_weight(flipped).
void direct(const Geometry& g, const float* x, const float* weight, bool flipped, const float* bias,
            float* y) {
  const Plan pl(g, blocking(g.O, g.C < kWideBelow));
  const int64_t NB = pl.k.v * pl.k.vl, HW = g.H * g.W, N = g.Ho * g.Wo, taps = g.kh * g.kw;
  Buffer<float> xt(static_cast<size_t>(g.B * HW * g.C)), wp(static_cast<size_t>(pl.blocks * taps * g.C * NB));
  Buffer<double> yt(static_cast<size_t>(g.B * N * pl.ldy));
  to_pixel_major(g.B, g.C, HW, x, xt.data(), g.C);
  pack_weight(g, weight, flipped, NB, pl.blocks, wp.data());
  parallel_for(pl.blocks * pl.tiles(), 1, [&](int64_t i0, int64_t i1) {
    ForwardItems op{pl, xt.data(), wp.data(), yt.data(), i0, i1};
    dispatch(op, pl.k);
  });
  parallel_for(g.B * g.O, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // r = b * O + o
      const int64_t b = r / g.O, o = r % g.O;
      const double* src = yt.data() + b * N * pl.ldy + o;
      float* dst = y + r * N;
      const double add = bias ? bias[o] : 0.0;
      for (int64_t i = 0; i < N; ++i) dst[i] = static_cast<float>(src[i * pl.ldy] + add);
    }
  });
}

}  // namespace

bool conv_direct_fits(const Conv2dShape& s) {
  const int64_t out = s.out_height() * s.out_width();
  return s.stride_h == 1 && s.stride_w == 1 && !s.is_pointwise() && out > 0 && out <= kMaxPlane &&
         s.height * s.width <= kMaxPlane;
}

void conv_direct_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                         float* y) {
  const int64_t C = s.in_channels, kh = s.kernel_h, kw = s.kernel_w;
  const Geometry g{s.batch, C,       s.height,     s.width,      s.out_channels, kh,           kw,
                   s.pad_h, s.pad_w, s.dilation_h, s.dilation_w, s.out_height(), s.out_width()};
  direct(g, x, weight, false, bias, y);
}

void conv_direct_weight_grad(const Conv2dShape& s, const float* dy, const float* x, float* dweight) {
  const Geometry g{s.batch,      s.in_channels,  s.height,     s.width, s.out_channels,
                   s.kernel_h,   s.kernel_w,     s.pad_h,      s.pad_w, s.dilation_h,
                   s.dilation_w, s.out_height(), s.out_width()};
  const Blocking k = blocking(g.O, false);
  const int64_t NB = k.v * k.vl, blocks = (g.O + NB - 1) / NB, ld = blocks * NB, taps = g.kh * g.kw;
  const int64_t ci_tiles = (g.C + k.p - 1) / k.p;
  // x is read k.p channels at a time from each tile's first; the last tile's reads may run past the
  // last pixel's channels into the k.p padding floats (the accumulators they meet are not stored).
  Buffer<float> xt(static_cast<size_t>(g.B * g.H * g.W * g.C + k.p)),
      dyt(static_cast<size_t>(g.B * g.Ho * g.Wo * ld));
  Buffer<double> dwt(static_cast<size_t>(taps * g.C * ld));
  to_pixel_major(g.B, g.C, g.H * g.W, x, xt.data(), g.C);
  std::fill(xt.data() + g.B * g.H * g.W * g.C, xt.data() + xt.size(), 0.0f);
  to_pixel_major(g.B, g.O, g.Ho * g.Wo, dy, dyt.data(), ld);
  parallel_for(taps * blocks * ci_tiles, 1, [&](int64_t i0, int64_t i1) {
    WeightItems op{g, blocks, xt.data(), dyt.data(), ld, dwt.data(), i0, i1};
    dispatch(op, k);
  });
  parallel_for(g.O * g.C, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)  // r = o * C + c
      for (int64_t tap = 0; tap < taps; ++tap)
        dweight[r * taps + tap] = static_cast<float>(dwt[(tap * g.C + r % g.C) * ld + r / g.C]);
  });
}

void conv_direct_data_grad(const Conv2dShape& s, const float* dy, const float* weight, float* dx) {
  // This convolution's output channels are the layer's input channels and its input channels the
  // layer's output channels.
  const int64_t Cin = s.in_channels, kh = s.kernel_h, kw = s.kernel_w;
  const Geometry g{s.batch,
                   s.out_channels,
                   s.out_height(),
                   s.out_width(),
                   Cin,
                   kh,
                   kw,
                   (kh - 1) * s.dilation_h - s.pad_h,
                   (kw - 1) * s.dilation_w - s.pad_w,
                   s.dilation_h,
                   s.dilation_w,
                   s.height,
                   s.width};
  direct(g, dy, weight, true, nullptr, dx);
}

}  // namespace ann
