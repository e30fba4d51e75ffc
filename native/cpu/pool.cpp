// Max pool 2d and the fused pyramid pooling. Both rest on one rule for PyTorch's max scan
// (`if (val > maxval || isnan(val)) take`): a NaN beats every number and the later NaN wins;
// otherwise the larger value wins and a tie keeps the earlier (smaller flat index) element.
// That rule is a total order, so windows can be reduced in any grouping: columns first
// (vectorised, contiguous rows), then across columns.
#include "ann/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "alloc.h"
#include "ann/pyramid_axis.h"
#include "parallel.h"
#include "simd.h"

namespace ann {
namespace {

// Branch-free: on random data the outcome is unpredictable, and mispredictions dominated.
inline bool beats(float v, int64_t vi, float m, int64_t mi) {
  const bool vn = v != v, mn = m != m;
  return (vn & (!mn | (vi > mi))) | (!vn & !mn & ((v > m) | ((v == m) & (vi < mi))));
}

#pragma GCC diagnostic ignored "-Wpsabi"  // the vector helpers are always inlined: no ABI crosses
// GCC vector extensions: vectorised at any -O level, lowered to the widest unit each clone has.
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));
typedef double vd4 __attribute__((vector_size(32)));
template <typename V, typename T>
__attribute__((always_inline)) inline V vload(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
__attribute__((always_inline)) inline void vstore(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

// Per column i of rows y0, y0+step, ... < y1: the winning value and its row. Later rows are the
// later elements of the scan, so the plain scan rule applies per column.
ANN_INLINE void column_max_impl(const float* plane, int64_t w, int64_t y0, int64_t y1, int64_t step,
                                float* vm, int32_t* vr) {
  // Row by row (a sequential stream the prefetcher follows), winners kept in L1-resident arrays.
  std::memcpy(vm, plane + y0 * w, static_cast<size_t>(w) * sizeof(float));
  std::fill(vr, vr + w, static_cast<int32_t>(y0));
  for (int64_t y = y0 + step; y < y1; y += step) {
    const float* r = plane + y * w;
    const int32_t yy = static_cast<int32_t>(y);
    const vi8 yv = vi8{} + yy;
    int64_t i = 0;
    for (; i + 8 <= w; i += 8) {
      const vf8 v = vload<vf8>(r + i), m = vload<vf8>(vm + i);
      const vi8 take = (v > m) | (v != v);
      vstore(vm + i, take ? v : m);
      vstore(vr + i, take ? yv : vload<vi8>(vr + i));
    }
    for (; i < w; ++i) {
      const float v = r[i];
      if (v > vm[i] || v != v) {
        vm[i] = v;
        vr[i] = yy;
      }
    }
  }
}
ANN_SIMD_KERNEL(void, column_max,
                (const float* plane, int64_t w, int64_t y0, int64_t y1, int64_t step, float* vm, int32_t* vr),
                (plane, w, y0, y1, step, vm, vr))

// Double accumulation keeps the average within rounding of the exact mean for any bin size.
ANN_INLINE void column_sum_impl(const float* plane, int64_t w, int64_t y0, int64_t y1, double* acc) {
  std::fill(acc, acc + w, 0.0);
  for (int64_t y = y0; y < y1; ++y) {
    const float* r = plane + y * w;
    int64_t i = 0;
    for (; i + 4 <= w; i += 4)
      vstore(acc + i, vload<vd4>(acc + i) + __builtin_convertvector(vload<vf4>(r + i), vd4));
    for (; i < w; ++i) acc[i] += static_cast<double>(r[i]);
  }
}
ANN_SIMD_KERNEL(void, column_sum, (const float* plane, int64_t w, int64_t y0, int64_t y1, double* acc),
                (plane, w, y0, y1, acc))

// Splits columns into `stride` phases: phase q holds columns q, q+stride, ... (each phase_len long).
ANN_INLINE void split_phases_impl(const float* vm, const int32_t* vr, int64_t w, int64_t stride,
                                  int64_t phase_len, float* pm, int32_t* pr) {
  int64_t j = 0;
  if (stride == 2) {
    const vi8 even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = even + 1;
    for (; 2 * j + 16 <= w; j += 8) {
      const vf8 a = vload<vf8>(vm + 2 * j), b = vload<vf8>(vm + 2 * j + 8);
      const vi8 c = vload<vi8>(vr + 2 * j), d = vload<vi8>(vr + 2 * j + 8);
      vstore(pm + j, __builtin_shuffle(a, b, even));
      vstore(pm + phase_len + j, __builtin_shuffle(a, b, odd));
      vstore(pr + j, __builtin_shuffle(c, d, even));
      vstore(pr + phase_len + j, __builtin_shuffle(c, d, odd));
    }
  }
  for (int64_t q = 0; q < stride; ++q)
    for (int64_t jj = j, i = j * stride + q; i < w; ++jj, i += stride) {
      pm[q * phase_len + jj] = vm[i];
      pr[q * phase_len + jj] = vr[i];
    }
}
ANN_SIMD_KERNEL(void, split_phases,
                (const float* vm, const int32_t* vr, int64_t w, int64_t stride, int64_t phase_len, float* pm,
                 int32_t* pr),
                (vm, vr, w, stride, phase_len, pm, pr))

// The running winners start as window offset 0: value, row and column col0 + t*cstep.
ANN_INLINE void init_candidates_impl(float* m, int32_t* r, int32_t* c, const float* v, const int32_t* rr,
                                     int32_t col0, int32_t cstep, int64_t n) {
  std::memcpy(m, v, static_cast<size_t>(n) * sizeof(float));
  std::memcpy(r, rr, static_cast<size_t>(n) * sizeof(int32_t));
  int64_t t = 0;
  const vi8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
  for (; t + 8 <= n; t += 8) vstore(c + t, (lane + static_cast<int32_t>(t)) * cstep + col0);
  for (; t < n; ++t) c[t] = static_cast<int32_t>(col0 + t * cstep);
}
ANN_SIMD_KERNEL(void, init_candidates,
                (float* m, int32_t* r, int32_t* c, const float* v, const int32_t* rr, int32_t col0,
                 int32_t cstep, int64_t n),
                (m, r, c, v, rr, col0, cstep, n))

ANN_INLINE void write_winners_impl(float* y, int32_t* index, const float* m, const int32_t* r,
                                   const int32_t* c, int32_t w, int64_t n) {
  std::memcpy(y, m, static_cast<size_t>(n) * sizeof(float));
  int64_t t = 0;
  for (; t + 8 <= n; t += 8) vstore(index + t, vload<vi8>(r + t) * w + vload<vi8>(c + t));
  for (; t < n; ++t) index[t] = r[t] * w + c[t];
}
ANN_SIMD_KERNEL(void, write_winners,
                (float* y, int32_t* index, const float* m, const int32_t* r, const int32_t* c, int32_t w,
                 int64_t n),
                (y, index, m, r, c, w, n))

// Merges, for t in [0, n), the candidate (v[t], row rr[t], column col0 + t*cstep) into the
// running winner (m, r, c) of output t. Candidates come later in the window's scan than the
// running winner (larger column, same or other row), so on a flat-index comparison only the
// rows matter: a tie goes to the candidate when its row is smaller, a NaN when not.
ANN_INLINE void merge_candidates_impl(float* m, int32_t* r, int32_t* c, const float* v, const int32_t* rr,
                                      int32_t col0, int32_t cstep, int64_t n) {
  int64_t t = 0;
  const vi8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
  for (; t + 8 <= n; t += 8) {
    const vf8 vv = vload<vf8>(v + t), mm = vload<vf8>(m + t);
    const vi8 vr = vload<vi8>(rr + t), mr = vload<vi8>(r + t);
    const vi8 take = (vv > mm) | ((vv != vv) & ((mm == mm) | (vr >= mr))) | ((vv == mm) & (vr < mr));
    const vi8 col = (lane + static_cast<int32_t>(t)) * cstep + col0;
    vstore(m + t, take ? vv : mm);
    vstore(r + t, take ? vr : mr);
    vstore(c + t, take ? col : vload<vi8>(c + t));
  }
  for (; t < n; ++t) {
    const float vv = v[t], mm = m[t];
    const bool take = vv > mm || (vv != vv && (mm == mm || rr[t] >= r[t])) || (vv == mm && rr[t] < r[t]);
    if (take) {
      m[t] = vv;
      r[t] = rr[t];
      c[t] = static_cast<int32_t>(col0 + t * cstep);
    }
  }
}
ANN_SIMD_KERNEL(void, merge_candidates,
                (float* m, int32_t* r, int32_t* c, const float* v, const int32_t* rr, int32_t col0,
                 int32_t cstep, int64_t n),
                (m, r, c, v, rr, col0, cstep, n))

}  // namespace

int64_t find_bad_index(const int32_t* idx, int64_t n, int64_t limit) {
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= limit) return i;
  return -1;
}

int64_t pool_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode) {
  const int64_t num = in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  const int64_t q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

inline int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// One output whose window may be clipped by the padding: PyTorch's scan, on the column winners.
void max_pool_window(const float* vm, const int32_t* vr, bool rows, int64_t y0, int64_t h, int64_t w,
                     int64_t ox, const MaxPool2dParams& p, float* y, int32_t* index) {
  int64_t x0 = ox * p.sw - p.pw;
  const int64_t x1 = std::min(x0 + (p.kw - 1) * p.dw + 1, w);
  while (x0 < 0) x0 += p.dw;
  float m = -std::numeric_limits<float>::infinity();
  int64_t mi = std::min(y0, h - 1) * w + std::min(x0, w - 1);  // an empty window, as PyTorch
  if (rows && x0 < x1) {
    m = vm[x0];
    mi = int64_t(vr[x0]) * w + x0;
    for (int64_t i = x0 + p.dw; i < x1; i += p.dw) {
      const int64_t vi = int64_t(vr[i]) * w + i;
      if (beats(vm[i], vi, m, mi)) {
        m = vm[i];
        mi = vi;
      }
    }
  }
  *y = m;
  *index = static_cast<int32_t>(mi);
}

}  // namespace

// Per output row: the column winners over the window's rows (vectorised), then along the row.
// Outputs whose window lies inside the row are merged vectorised across outputs: the column
// winners are split into `stride` phases, so each window offset reads one contiguous run.
void max_pool2d_forward(const float* x, float* y, int32_t* indices, int64_t planes, int64_t h, int64_t w,
                        int64_t oh, int64_t ow, const MaxPool2dParams& p) {
  const int64_t lo = std::min(ow, (p.pw + p.sw - 1) / p.sw);
  const int64_t hi = std::max(lo, std::min(ow, floordiv(w - 1 - (p.kw - 1) * p.dw + p.pw, p.sw) + 1));
  const int64_t phase_len = (w + p.sw - 1) / p.sw;
  parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
    Buffer<float> vm(w), pm(p.sw * phase_len), am(ow);
    Buffer<int32_t> vr(w), pr(p.sw * phase_len), ar(ow), ac(ow);
    for (int64_t pl = begin; pl < end; ++pl) {
      const float* xp = x + pl * h * w;
      for (int64_t oy = 0; oy < oh; ++oy) {
        float* yrow = y + (pl * oh + oy) * ow;
        int32_t* irow = indices + (pl * oh + oy) * ow;
        int64_t y0 = oy * p.sh - p.ph;
        const int64_t y1 = std::min(y0 + (p.kh - 1) * p.dh + 1, h);
        while (y0 < 0) y0 += p.dh;
        const bool rows = y0 < y1;
        if (rows) column_max(xp, w, y0, y1, p.dh, vm.data(), vr.data());
        const int64_t vlo = rows ? lo : 0, vhi = rows ? hi : 0, n = vhi - vlo;
        if (n > 0) {
          const float* sm = vm.data();
          const int32_t* sr = vr.data();
          if (p.sw > 1) {
            split_phases(vm.data(), vr.data(), w, p.sw, phase_len, pm.data(), pr.data());
            sm = pm.data();
            sr = pr.data();
          }
          for (int64_t k = 0; k < p.kw; ++k) {
            const int64_t off = k * p.dw - p.pw, shift = floordiv(off, p.sw), q = off - shift * p.sw;
            const int64_t start = q * phase_len + vlo + shift;
            const int32_t col0 = static_cast<int32_t>(vlo * p.sw + off);
            (k == 0 ? init_candidates : merge_candidates)(am.data(), ar.data(), ac.data(), sm + start,
                                                          sr + start, col0, static_cast<int32_t>(p.sw), n);
          }
          write_winners(yrow + vlo, irow + vlo, am.data(), ar.data(), ac.data(), static_cast<int32_t>(w), n);
        }
        for (int64_t ox = 0; ox < ow; ++ox) {
          if (ox == vlo && n > 0) ox = vhi;
          if (ox >= ow) break;
          max_pool_window(vm.data(), vr.data(), rows, y0, h, w, ox, p, yrow + ox, irow + ox);
        }
      }
    }
  });
}

// Indices advance roughly row by row, so each plane is zeroed just ahead of the scatter (up to the
// end of the row an index reaches) and updated while in cache: one pass over dx instead of two.
void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t h,
                         int64_t w, int64_t oh, int64_t ow) {
  const int64_t hw = h * w;
  parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      float* d = dx + pl * hw;
      int64_t zeroed = 0;  // d[0, zeroed) is initialised
      auto zero_to = [&](int64_t limit) {
        limit = std::min(limit, hw);
        if (limit > zeroed) std::memset(d + zeroed, 0, static_cast<size_t>(limit - zeroed) * sizeof(float));
        zeroed = std::max(zeroed, limit);
      };
      for (int64_t oy = 0; oy < oh; ++oy) {
        const float* g = dy + (pl * oh + oy) * ow;
        const int32_t* ix = indices + (pl * oh + oy) * ow;
        for (int64_t o = 0; o < ow; ++o) {
          if (ix[o] >= zeroed) zero_to((ix[o] / w + 1) * w);
          d[ix[o]] += g[o];
        }
      }
      zero_to(hw);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Pyramid pooling: each plane is reduced once onto the segment grid of ann/pyramid_axis.h (cells),
// and bins are assembled from cells.

namespace {

using Axis = PyramidAxis;

// Calls fn(bin_index_in_output, row_bin, col_bin) for every bin, levels in order, row-major.
template <typename Fn>
void for_each_bin(const Axis& ay, const Axis& ax, const std::vector<int64_t>& sizes, Fn fn) {
  int64_t s = 0;
  for (size_t l = 0; l < sizes.size(); ++l) {
    const int64_t n = sizes[l];
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) fn(s++, ay.level_offset[l] + i, ax.level_offset[l] + j);
  }
}

// Bins are summed from whole cells rather than from 2D prefix sums: a prefix difference would
// spread one NaN or infinity to every later bin, where PyTorch keeps it in the bins that hold it.
void pyramid_avg_plane(const float* xp, float* yp, int64_t w, const Axis& ay, const Axis& ax,
                       const std::vector<int64_t>& sizes, double* acc, double* cell) {
  const int64_t R = ay.segments(), Cs = ax.segments();
  for (int64_t r = 0; r < R; ++r) {
    column_sum(xp, w, ay.edges[r], ay.edges[r + 1], acc);
    for (int64_t c = 0; c < Cs; ++c) {
      double sum = 0.0;
      for (int64_t i = ax.edges[c]; i < ax.edges[c + 1]; ++i) sum += acc[i];
      cell[r * Cs + c] = sum;
    }
  }
  for_each_bin(ay, ax, sizes, [&](int64_t s, int64_t bi, int64_t bj) {
    double sum = 0.0;
    for (int64_t r = ay.seg0[bi]; r < ay.seg1[bi]; ++r)
      for (int64_t c = ax.seg0[bj]; c < ax.seg1[bj]; ++c) sum += cell[r * Cs + c];
    const double area = double(ay.end[bi] - ay.start[bi]) * double(ax.end[bj] - ax.start[bj]);
    yp[s] = static_cast<float>(sum / area);
  });
}

// The scan rule as one int64 whose maximum is the winner, so reductions are plain max chains:
// high word an order-preserving image of the value (NaN above +inf; -0 as +0, which PyTorch's
// `>` treats as a tie), low word the flat index, inverted for numbers so the first one wins.
constexpr int32_t kNanKey = std::numeric_limits<int32_t>::max();

inline int64_t max_key(float v, int64_t flat) {
  const float z = v + 0.0f;
  int32_t u;
  std::memcpy(&u, &z, sizeof u);
  const int32_t ordered = u ^ ((u >> 31) & 0x7FFFFFFF);
  const int64_t number = (int64_t(ordered) << 32) | int64_t(0xFFFFFFFFu - static_cast<uint32_t>(flat));
  const int64_t nan = (int64_t(kNanKey) << 32) | flat;
  return v != v ? nan : number;
}

inline int64_t key_index(int64_t key) {
  const uint32_t low = static_cast<uint32_t>(key);
  return (key >> 32) == kNanKey ? int64_t(low) : int64_t(0xFFFFFFFFu - low);
}

void pyramid_max_plane(const float* xp, float* yp, int32_t* ip, int64_t w, const Axis& ay, const Axis& ax,
                       const std::vector<int64_t>& sizes, float* vm, int32_t* vr, int64_t* ck) {
  const int64_t R = ay.segments(), Cs = ax.segments();
  for (int64_t r = 0; r < R; ++r) {
    column_max(xp, w, ay.edges[r], ay.edges[r + 1], 1, vm, vr);
    for (int64_t c = 0; c < Cs; ++c) {
      int64_t k = std::numeric_limits<int64_t>::min();
      for (int64_t i = ax.edges[c]; i < ax.edges[c + 1]; ++i)
        k = std::max(k, max_key(vm[i], int64_t(vr[i]) * w + i));
      ck[r * Cs + c] = k;
    }
  }
  for_each_bin(ay, ax, sizes, [&](int64_t s, int64_t bi, int64_t bj) {
    int64_t k = std::numeric_limits<int64_t>::min();
    for (int64_t r = ay.seg0[bi]; r < ay.seg1[bi]; ++r)
      for (int64_t c = ax.seg0[bj]; c < ax.seg1[bj]; ++c) k = std::max(k, ck[r * Cs + c]);
    const int64_t index = key_index(k);
    yp[s] = xp[index];
    ip[s] = static_cast<int32_t>(index);
  });
}

}  // namespace

int64_t pyramid_total(const std::vector<int64_t>& sizes) {
  int64_t s = 0;
  for (int64_t n : sizes) s += n * n;
  return s;
}

void pyramid_pool_forward(const float* x, float* y, int32_t* indices, int64_t planes, int64_t h, int64_t w,
                          const std::vector<int64_t>& sizes, bool max_mode) {
  const Axis ay = pyramid_axis(h, sizes), ax = pyramid_axis(w, sizes);
  const int64_t S = pyramid_total(sizes), R = ay.segments(), Cs = ax.segments();
  parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
    if (max_mode) {
      Buffer<float> vm(w);
      Buffer<int32_t> vr(w);
      Buffer<int64_t> ck(R * Cs);
      for (int64_t p = begin; p < end; ++p)
        pyramid_max_plane(x + p * h * w, y + p * S, indices + p * S, w, ay, ax, sizes, vm.data(), vr.data(),
                          ck.data());
    } else {
      Buffer<double> acc(w), cell(R * Cs);
      for (int64_t p = begin; p < end; ++p)
        pyramid_avg_plane(x + p * h * w, y + p * S, w, ay, ax, sizes, acc.data(), cell.data());
    }
  });
}

void pyramid_pool_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t h,
                           int64_t w, const std::vector<int64_t>& sizes, bool max_mode) {
  const int64_t S = pyramid_total(sizes), hw = h * w;
  if (max_mode) {
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        float* d = dx + p * hw;
        std::memset(d, 0, static_cast<size_t>(hw) * sizeof(float));
        const float* g = dy + p * S;
        const int32_t* ix = indices + p * S;
        for (int64_t s = 0; s < S; ++s) d[ix[s]] += g[s];
      }
    });
    return;
  }
  const Axis ay = pyramid_axis(h, sizes), ax = pyramid_axis(w, sizes);
  const int64_t R = ay.segments(), Cs = ax.segments();
  parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
    Buffer<double> cell(R * Cs);
    Buffer<float> row(w);
    for (int64_t p = begin; p < end; ++p) {
      // Every pixel of a cell has the same containing bins: gather their dy/area once per cell.
      const float* g = dy + p * S;
      std::fill(cell.data(), cell.data() + R * Cs, 0.0);
      for_each_bin(ay, ax, sizes, [&](int64_t s, int64_t bi, int64_t bj) {
        const double v =
            double(g[s]) / (double(ay.end[bi] - ay.start[bi]) * double(ax.end[bj] - ax.start[bj]));
        for (int64_t r = ay.seg0[bi]; r < ay.seg1[bi]; ++r)
          for (int64_t c = ax.seg0[bj]; c < ax.seg1[bj]; ++c) cell[r * Cs + c] += v;
      });
      float* d = dx + p * hw;
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t c = 0; c < Cs; ++c)
          std::fill(row.data() + ax.edges[c], row.data() + ax.edges[c + 1],
                    static_cast<float>(cell[r * Cs + c]));
        for (int64_t yy = ay.edges[r]; yy < ay.edges[r + 1]; ++yy)
          std::memcpy(d + yy * w, row.data(), static_cast<size_t>(w) * sizeof(float));
      }
    }
  });
}

}  // namespace ann
