// Max pool 2d and the fused pyramid pooling on the GPU. The max rule is PyTorch's scan
// (`if (val > maxval || isnan(val)) take`): a NaN beats every number and the later NaN wins,
// otherwise a tie keeps the earlier element. Both backwards are gathers (each input element sums
// the outputs that point at it, in output order), so they are deterministic without atomics and
// give the CPU kernel's bits.
#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "ann/pool.h"
#include "pool_scatter.h"
#include "pyramid_bins.h"
#include "runtime.h"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;

// ----- max pool 2d -----

// One thread per output, scanning its window in row-major order as PyTorch does. An empty
// window (possible only through padding) keeps -inf and the clamped first position, as the CPU.
__global__ void max_pool2d_forward_kernel(const float* x, float* y, int32_t* indices, int64_t total,
                                          int64_t h, int64_t w, int64_t oh, int64_t ow, MaxPool2dParams p) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= total) return;
  const int64_t ox = o % ow, oy = (o / ow) % oh, plane = o / (ow * oh);
  const float* xp = x + plane * h * w;
  int64_t y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
  const int64_t y1 = min(y0 + (p.kh - 1) * p.dh + 1, h), x1 = min(x0 + (p.kw - 1) * p.dw + 1, w);
  while (y0 < 0) y0 += p.dh;
  while (x0 < 0) x0 += p.dw;
  float m = -INFINITY;
  int64_t mi = min(y0, h - 1) * w + min(x0, w - 1);
  for (int64_t yy = y0; yy < y1; yy += p.dh)
    for (int64_t xx = x0; xx < x1; xx += p.dw) {
      const float v = xp[yy * w + xx];
      if (v > m || v != v) {
        m = v;
        mi = yy * w + xx;
      }
    }
  y[o] = m;
  indices[o] = static_cast<int32_t>(mi);
}

// The backward does not know the windows, so it learns from the indices which output rows and
// columns can point at each input row and column: per output row the smallest and largest
// pointed-at input row (rlo, rhi), per output column the same for input columns (clo, chi).
// One warp per output row, one thread per output column.
__global__ void index_bounds_kernel(const int32_t* indices, int64_t planes, int64_t w, int64_t oh, int64_t ow,
                                    int32_t* rlo, int32_t* rhi, int32_t* clo, int32_t* chi) {
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (warp < planes * oh) {  // whole warps take this branch together
    const int32_t* ix = indices + warp * ow;
    int32_t lo = 0x7fffffff, hi = -1;
    for (int64_t o = lane; o < ow; o += 32) {
      const int32_t r = static_cast<int32_t>(ix[o] / w);
      lo = min(lo, r);
      hi = max(hi, r);
    }
    for (int off = 16; off > 0; off >>= 1) {
      lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, off));
      hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, off));
    }
    if (lane == 0) {
      rlo[warp] = lo;
      rhi[warp] = hi;
    }
  }
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < planes * ow) {
    const int64_t plane = t / ow, ox = t % ow;
    const int32_t* ix = indices + plane * oh * ow + ox;
    int32_t lo = 0x7fffffff, hi = -1;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int32_t c = static_cast<int32_t>(ix[oy * ow] % w);
      lo = min(lo, c);
      hi = max(hi, c);
    }
    clo[t] = lo;
    chi[t] = hi;
  }
}

// Per plane and axis: hi becomes its prefix maximum and lo its suffix minimum, both monotone, so
// the outputs that may point at input row r lie between the first prefix maximum >= r and the
// last suffix minimum <= r (binary searches). The raw bounds stay for the exact test.
__global__ void index_envelope_kernel(const int32_t* lo, const int32_t* hi, int32_t* suffix_lo,
                                      int32_t* prefix_hi, int64_t lines, int64_t n) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= lines) return;
  const int64_t base = t * n;
  int32_t run = -1;
  for (int64_t i = 0; i < n; ++i) prefix_hi[base + i] = run = max(run, hi[base + i]);
  run = 0x7fffffff;
  for (int64_t i = n - 1; i >= 0; --i) suffix_lo[base + i] = run = min(run, lo[base + i]);
}

// First i in [0, n) with a[i] >= v (n if none); a nondecreasing.
__device__ __forceinline__ int64_t first_at_least(const int32_t* a, int64_t n, int32_t v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (a[mid] >= v)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// One thread per input pixel: the sum of dy over the outputs pointing at it, in output order.
__global__ void max_pool2d_backward_kernel(const float* dy, const int32_t* indices, float* dx, int64_t total,
                                           int64_t h, int64_t w, int64_t oh, int64_t ow, const int32_t* rlo,
                                           const int32_t* rhi, const int32_t* clo, const int32_t* chi,
                                           const int32_t* rlo_suffix, const int32_t* rhi_prefix,
                                           const int32_t* clo_suffix, const int32_t* chi_prefix) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const int64_t ix = t % w, iy = (t / w) % h, plane = t / (w * h);
  const int32_t r = static_cast<int32_t>(iy), c = static_cast<int32_t>(ix),
                flat = static_cast<int32_t>(iy * w + ix);
  const int64_t pr = plane * oh, pc = plane * ow;
  // Rows: from the first whose prefix max reaches r to the last whose suffix min is <= r.
  const int64_t oy0 = first_at_least(rhi_prefix + pr, oh, r);
  const int64_t oy1 = first_at_least(rlo_suffix + pr, oh, r + 1);
  const int64_t ox0 = first_at_least(chi_prefix + pc, ow, c);
  const int64_t ox1 = first_at_least(clo_suffix + pc, ow, c + 1);
  float sum = 0.f;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    if (rlo[pr + oy] > r || rhi[pr + oy] < r) continue;
    const int64_t row = (plane * oh + oy) * ow;
    for (int64_t ox = ox0; ox < ox1; ++ox) {
      if (clo[pc + ox] > c || chi[pc + ox] < c) continue;
      if (indices[row + ox] == flat) sum += dy[row + ox];
    }
  }
  dx[t] = sum;
}

// ----- pyramid pooling -----

struct BinTable {
  const int32_t* t;
  int32_t S, R, Cs;
  int64_t col_edges, bins, row_segment, col_segment;
};

BinTable view(const PyramidBins& p, const int32_t* device_table, int64_t h) {
  return {device_table, p.S, p.R, p.Cs, p.col_edges(), p.bins(), p.row_segment(), p.col_segment(h)};
}

// The scan rule as one int64 whose maximum is the winner (native/cpu/pool.cpp's max_key): high
// word an order-preserving image of the value (NaN above +inf, -0 as +0), low word the flat
// index, inverted for numbers so that the first one wins.
constexpr int32_t kNanKey = 0x7fffffff;

__device__ __forceinline__ int64_t max_key(float v, int64_t flat) {
  const float z = v + 0.0f;
  int32_t u;
  memcpy(&u, &z, sizeof u);
  const int32_t ordered = u ^ ((u >> 31) & 0x7FFFFFFF);
  const int64_t number = (int64_t(ordered) << 32) | int64_t(0xFFFFFFFFu - static_cast<uint32_t>(flat));
  const int64_t nan = (int64_t(kNanKey) << 32) | flat;
  return v != v ? nan : number;
}

__device__ __forceinline__ int64_t key_index(int64_t key) {
  const uint32_t low = static_cast<uint32_t>(key);
  return (key >> 32) == kNanKey ? int64_t(low) : int64_t(0xFFFFFFFFu - low);
}

constexpr int64_t kMinKey = static_cast<int64_t>(0x8000000000000000ull);

// Cells live in shared memory when they fit beside the column sums, else in global scratch.
constexpr size_t kSharedBudget = 40 * 1024;

// One block per plane, reading it once: per row segment each thread reduces whole columns (sums
// in double, as the CPU, or the scan winner), the columns of each cell are then combined in
// column order by one thread, and every anchor is assembled from its cells. The additions happen
// in the CPU kernel's order, so the averages are its bits.
__global__ void pyramid_forward_kernel(const float* x, float* y, int32_t* indices, int64_t h, int64_t w,
                                       BinTable bt, bool max_mode, double* global_cells) {
  ANN_DYNAMIC_SHARED(double, shared);
  const int64_t plane = blockIdx.x;
  const float* xp = x + plane * h * w;
  const int R = bt.R, Cs = bt.Cs, S = bt.S;
  const int32_t* ye = bt.t;
  const int32_t* xe = bt.t + bt.col_edges;
  double* col = shared;  // [blockDim] column sums, or the column winner's key (as its bits)
  int64_t* col_key = reinterpret_cast<int64_t*>(shared);
  double* cells = global_cells ? global_cells + plane * int64_t(R) * Cs : shared + blockDim.x;
  int64_t* cell_key = reinterpret_cast<int64_t*>(cells);
  for (int i = threadIdx.x; i < R * Cs; i += blockDim.x) {
    if (max_mode)
      cell_key[i] = kMinKey;
    else
      cells[i] = 0.0;
  }
  for (int r = 0; r < R; ++r) {
    const int64_t y0 = ye[r], y1 = ye[r + 1];
    for (int64_t x0 = 0; x0 < w; x0 += blockDim.x) {
      const int64_t xx = x0 + threadIdx.x;
      if (xx < w) {
        if (max_mode) {
          float m = xp[y0 * w + xx];
          int64_t row = y0;
          for (int64_t yy = y0 + 1; yy < y1; ++yy) {
            const float v = xp[yy * w + xx];
            if (v > m || v != v) {
              m = v;
              row = yy;
            }
          }
          col_key[threadIdx.x] = max_key(m, row * w + xx);
        } else {
          double acc = 0.0;
          for (int64_t yy = y0; yy < y1; ++yy) acc += static_cast<double>(xp[yy * w + xx]);
          col[threadIdx.x] = acc;
        }
      }
      __syncthreads();
      const int64_t x1 = min(w, x0 + int64_t(blockDim.x));
      for (int c = threadIdx.x; c < Cs; c += blockDim.x) {
        const int64_t lo = max(int64_t(xe[c]), x0), hi = min(int64_t(xe[c + 1]), x1);
        if (lo >= hi) continue;
        if (max_mode) {
          int64_t k = cell_key[r * Cs + c];
          for (int64_t i = lo; i < hi; ++i) k = max(k, col_key[i - x0]);
          cell_key[r * Cs + c] = k;
        } else {
          double sum = cells[r * Cs + c];
          for (int64_t i = lo; i < hi; ++i) sum += col[i - x0];
          cells[r * Cs + c] = sum;
        }
      }
      __syncthreads();
    }
  }
  for (int s = threadIdx.x; s < S; s += blockDim.x) {
    const int32_t* b = bt.t + bt.bins + 8 * int64_t(s);
    if (max_mode) {
      int64_t k = kMinKey;
      for (int r = b[2]; r < b[3]; ++r)
        for (int c = b[6]; c < b[7]; ++c) k = max(k, cell_key[r * Cs + c]);
      const int64_t index = key_index(k);
      y[plane * S + s] = xp[index];
      indices[plane * S + s] = static_cast<int32_t>(index);
    } else {
      double sum = 0.0;
      for (int r = b[2]; r < b[3]; ++r)
        for (int c = b[6]; c < b[7]; ++c) sum += cells[r * Cs + c];
      const double area = double(b[1] - b[0]) * double(b[5] - b[4]);
      y[plane * S + s] = static_cast<float>(sum / area);
    }
  }
}

// Average backward, one block per plane: every pixel of a cell receives the same sum of dy/area
// over the anchors whose bins hold the cell, gathered once per cell in anchor order (the CPU's
// order, so its bits), then broadcast to the cell's pixels with coalesced writes.
__global__ void pyramid_avg_backward_kernel(const float* dy, float* dx, int64_t h, int64_t w, BinTable bt,
                                            double* global_cells) {
  ANN_DYNAMIC_SHARED(double, shared);
  const int64_t plane = blockIdx.x;
  const int R = bt.R, Cs = bt.Cs, S = bt.S;
  double* cells = global_cells ? global_cells + plane * int64_t(R) * Cs : shared;
  const float* g = dy + plane * S;
  for (int i = threadIdx.x; i < R * Cs; i += blockDim.x) {
    const int r = i / Cs, c = i % Cs;
    double sum = 0.0;
    for (int s = 0; s < S; ++s) {
      const int32_t* b = bt.t + bt.bins + 8 * int64_t(s);
      if (r >= b[2] && r < b[3] && c >= b[6] && c < b[7])
        sum += double(g[s]) / (double(b[1] - b[0]) * double(b[5] - b[4]));
    }
    cells[i] = sum;
  }
  __syncthreads();
  const int32_t* row_seg = bt.t + bt.row_segment;
  const int32_t* col_seg = bt.t + bt.col_segment;
  float* d = dx + plane * h * w;
  for (int64_t yy = 0; yy < h; ++yy) {
    const double* cr = cells + int64_t(row_seg[yy]) * Cs;
    for (int64_t xx = threadIdx.x; xx < w; xx += blockDim.x)
      d[yy * w + xx] = static_cast<float>(cr[col_seg[xx]]);
  }
}

// The first bad position by integer atomicMin: the order of the atomics cannot change the result.
__global__ void find_bad_index_kernel(const int32_t* idx, int64_t n, int64_t limit, long long* first) {
  long long bad = n;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    if (idx[i] < 0 || idx[i] >= limit) {
      bad = i;
      break;
    }
  if (bad < n) atomicMin(first, bad);
}

}  // namespace

int64_t find_bad_index(const int32_t* idx, int64_t n, int64_t limit) {
  if (n <= 0) return -1;
  Buffer<long long> first(1);
  long long host = n;
  copy_to_device(first.data(), &host, sizeof host);
  ANN_LAUNCH("find_bad_index", find_bad_index_kernel, std::min<unsigned>(blocks_for(n, kThreads), 1024),
             kThreads, 0, idx, n, limit, first.data());
  copy_to_host(&host, first.data(), sizeof host);
  return host == n ? -1 : host;
}

void max_pool2d_forward(const float* x, float* y, int32_t* indices, int64_t planes, int64_t h, int64_t w,
                        int64_t oh, int64_t ow, const MaxPool2dParams& p) {
  const int64_t total = planes * oh * ow;
  ANN_LAUNCH("max_pool2d", max_pool2d_forward_kernel, blocks_for(total, kThreads), kThreads, 0, x, y, indices,
             total, h, w, oh, ow, p);
}

void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t h,
                         int64_t w, int64_t oh, int64_t ow) {
  const char* op = "max_pool2d_backward";
  const int64_t rows = planes * oh, cols = planes * ow;
  Buffer<int32_t> scratch(static_cast<size_t>(4 * rows + 4 * cols));
  int32_t* rlo = scratch.data();
  int32_t* rhi = rlo + rows;
  int32_t* rlo_suffix = rhi + rows;
  int32_t* rhi_prefix = rlo_suffix + rows;
  int32_t* clo = rhi_prefix + rows;
  int32_t* chi = clo + cols;
  int32_t* clo_suffix = chi + cols;
  int32_t* chi_prefix = clo_suffix + cols;
  const int64_t threads = std::max(rows * 32, cols);
  ANN_LAUNCH(op, index_bounds_kernel, blocks_for(threads, kThreads), kThreads, 0, indices, planes, w, oh, ow,
             rlo, rhi, clo, chi);
  ANN_LAUNCH(op, index_envelope_kernel, blocks_for(planes, kThreads), kThreads, 0, rlo, rhi, rlo_suffix,
             rhi_prefix, planes, oh);
  ANN_LAUNCH(op, index_envelope_kernel, blocks_for(planes, kThreads), kThreads, 0, clo, chi, clo_suffix,
             chi_prefix, planes, ow);
  const int64_t total = planes * h * w;
  ANN_LAUNCH(op, max_pool2d_backward_kernel, blocks_for(total, kThreads), kThreads, 0, dy, indices, dx, total,
             h, w, oh, ow, rlo, rhi, clo, chi, rlo_suffix, rhi_prefix, clo_suffix, chi_prefix);
}

namespace {

// The bin table on the device; cells in shared memory when they fit beside `column_bytes`.
struct DeviceBins {
  PyramidBins bins;
  Buffer<int32_t> table;
  std::optional<Buffer<double>> cells;  // only when they do not fit in shared memory
  size_t shared;
  DeviceBins(int64_t planes, int64_t h, int64_t w, const std::vector<int64_t>& sizes, size_t column_bytes)
      : bins(pyramid_bins(h, w, sizes)), table(bins.table.size()), shared(column_bytes + cell_bytes()) {
    copy_to_device(table.data(), bins.table.data(), bins.table.size() * sizeof(int32_t));
    if (shared > kSharedBudget) {
      cells.emplace(static_cast<size_t>(planes) * bins.R * bins.Cs);
      shared = column_bytes;
    }
  }
  size_t cell_bytes() const { return size_t(bins.R) * bins.Cs * sizeof(double); }
  double* global_cells() const { return cells ? cells->data() : nullptr; }
};

}  // namespace

void pyramid_pool_forward(const float* x, float* y, int32_t* indices, int64_t planes, int64_t h, int64_t w,
                          const std::vector<int64_t>& sizes, bool max_mode) {
  DeviceBins d(planes, h, w, sizes, kThreads * sizeof(double));
  ANN_LAUNCH("pyramid_pool", pyramid_forward_kernel, blocks_for(planes, 1), kThreads, d.shared, x, y, indices,
             h, w, view(d.bins, d.table.data(), h), max_mode, d.global_cells());
}

void pyramid_pool_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t h,
                           int64_t w, const std::vector<int64_t>& sizes, bool max_mode) {
  if (max_mode) {
    scatter_planes("pyramid_pool_backward", dy, indices, dx, planes, h * w, pyramid_total(sizes), 1);
    return;
  }
  DeviceBins d(planes, h, w, sizes, 0);
  ANN_LAUNCH("pyramid_pool_backward", pyramid_avg_backward_kernel, blocks_for(planes, 1), kThreads,
             std::max<size_t>(d.shared, sizeof(double)), dy, dx, h, w, view(d.bins, d.table.data(), h),
             d.global_cells());
}

}  // namespace ann::cuda
