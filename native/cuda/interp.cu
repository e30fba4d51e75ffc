// Bilinear interpolation on the GPU, the device twin of cpu/interp.cpp: source indices and weights
// from PyTorch's area_pixel_compute_source_index in double, one table per axis built on the
// device. Forward: each output blends the two resampled source rows (horizontal, then vertical),
// as the CPU's separable passes do. Backward as a gather, deterministic without atomics: each dx
// element sums, in double and in the CPU's order (output rows for each output column, then the
// columns), the outputs that read it, found from an inverse table of output ranges per input index.
#include <algorithm>

#include "ann/interp.h"
#include "runtime.h"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxGridY = 65535;

// One output index along an axis: its two source indices and their weights.
struct Tap {
  int i0, i1;
  float w0, w1;
  double d0, d1;  // the same weights in double, for the backward's sums
};

// PyTorch's area_pixel_compute_scale and compute_source_index_and_lambda; `given` is the user's
// scale factor (<= 0: none).
__global__ void axis_taps_kernel(int in, int out, bool align_corners, double given, Tap* __restrict__ taps) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= out) return;
  Tap t;
  if (in == out) {  // PyTorch copies an axis whose size is kept, whatever the scale factor
    t.i0 = t.i1 = o;
    t.w0 = 1.f;
    t.w1 = 0.f;
    t.d0 = 1.0;
    t.d1 = 0.0;
    taps[o] = t;
    return;
  }
  double scale;
  if (align_corners)
    scale = out > 1 ? double(in - 1) / double(out - 1) : 0.0;
  else
    scale = given > 0 ? 1.0 / given : double(in) / double(out);
  double src = align_corners ? scale * double(o) : scale * (double(o) + 0.5) - 0.5;
  if (src < 0) src = 0;
  const int i0 = src < double(in - 1) ? static_cast<int>(src) : in - 1;
  double l1 = src - double(i0);
  l1 = l1 < 0.0 ? 0.0 : (l1 > 1.0 ? 1.0 : l1);
  t.i0 = i0;
  t.i1 = i0 + (i0 < in - 1 ? 1 : 0);
  t.w1 = static_cast<float>(l1);
  t.w0 = static_cast<float>(1.0 - l1);
  t.d1 = l1;
  t.d0 = 1.0 - l1;
  taps[o] = t;
}

// The outputs [lo, hi) along an axis that read one input index.
struct Span {
  int lo, hi;
};

// For each input index r: the outputs [lo, hi) that read it. i0 and i1 never decrease along the
// axis and i1 - i0 <= 1, so they are the o with i1[o] >= r and i0[o] <= r.
__global__ void axis_ranges_kernel(const Tap* __restrict__ taps, int out, int in, Span* __restrict__ ranges) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= in) return;
  int a = 0, b = out;  // first o with i1 >= r
  while (a < b) {
    const int m = (a + b) / 2;
    if (taps[m].i1 >= r)
      b = m;
    else
      a = m + 1;
  }
  const int lo = a;
  b = out;  // first o with i0 > r
  while (a < b) {
    const int m = (a + b) / 2;
    if (taps[m].i0 > r)
      b = m;
    else
      a = m + 1;
  }
  ranges[r] = Span{lo, a};
}

__global__ void forward_kernel(InterpShape s, const Tap* __restrict__ ty, const Tap* __restrict__ tx,
                               const float* __restrict__ x, float* __restrict__ y) {
  const int64_t rows = s.planes * s.out_h;
  const int out_w = static_cast<int>(s.out_w), in_w = static_cast<int>(s.in_w);
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int64_t p = row / s.out_h;
    const Tap v = ty[row - p * s.out_h];
    const float* r0 = x + (p * s.in_h + v.i0) * in_w;
    const float* r1 = x + (p * s.in_h + v.i1) * in_w;
    float* out = y + row * out_w;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < out_w; j += gridDim.x * blockDim.x) {
      const Tap h = tx[j];
      const float h0 = h.w0 * r0[h.i0] + h.w1 * r0[h.i1];
      const float h1 = h.w0 * r1[h.i0] + h.w1 * r1[h.i1];
      out[j] = v.w0 * h0 + v.w1 * h1;
    }
  }
}

__global__ void backward_kernel(InterpShape s, const Tap* __restrict__ ty, const Tap* __restrict__ tx,
                                const Span* __restrict__ ry, const Span* __restrict__ rx,
                                const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t rows = s.planes * s.in_h;
  const int in_w = static_cast<int>(s.in_w), out_w = static_cast<int>(s.out_w);
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int64_t p = row / s.in_h;
    const int r = static_cast<int>(row - p * s.in_h);
    const Span rows_at = ry[r];
    const float* g = dy + p * s.out_h * out_w;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < in_w; c += gridDim.x * blockDim.x) {
      const Span cols_at = rx[c];
      double acc = 0;
      for (int j = cols_at.lo; j < cols_at.hi; ++j) {
        // t = the vertical pass at column j: sum over the output rows that read row r. A tap that
        // names r adds even with weight 0, as on the CPU, so an infinite dy still propagates.
        double t = 0;
        for (int o = rows_at.lo; o < rows_at.hi; ++o) {
          const Tap& v = ty[o];
          const double g_oj = g[static_cast<int64_t>(o) * out_w + j];
          if (v.i0 == r) t += v.d0 * g_oj;
          if (v.i1 == r) t += v.d1 * g_oj;
        }
        const Tap& h = tx[j];
        if (h.i0 == c) acc += h.d0 * t;
        if (h.i1 == c) acc += h.d1 * t;
      }
      dx[row * in_w + c] = static_cast<float>(acc);
    }
  }
}

dim3 rows_grid(int64_t width, int64_t rows) {
  return dim3(std::min<unsigned>(blocks_for(width, kThreads), 64u),
              static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(rows, 1), kMaxGridY)));
}

// The tap tables of both axes in one scratch buffer: [out_h] rows, then [out_w] columns.
struct Tables {
  Buffer<Tap> taps;
  Tap* y() const { return taps.data(); }
  Tap* x(const InterpShape& s) const { return taps.data() + s.out_h; }
  Tables(const InterpShape& s, const char* op) : taps(static_cast<size_t>(s.out_h + s.out_w)) {
    ANN_LAUNCH(op, axis_taps_kernel, dim3(blocks_for(s.out_h, kThreads)), dim3(kThreads), 0,
               static_cast<int>(s.in_h), static_cast<int>(s.out_h), s.align_corners, s.scale_h, y());
    ANN_LAUNCH(op, axis_taps_kernel, dim3(blocks_for(s.out_w, kThreads)), dim3(kThreads), 0,
               static_cast<int>(s.in_w), static_cast<int>(s.out_w), s.align_corners, s.scale_w, x(s));
  }
};

}  // namespace

void interpolate_bilinear_forward(const InterpShape& s, const float* x, float* y) {
  if (s.planes == 0 || s.out_h == 0 || s.out_w == 0) return;
  const char* op = "interpolate";
  const Tables t(s, op);
  ANN_LAUNCH(op, forward_kernel, rows_grid(s.out_w, s.planes * s.out_h), dim3(kThreads), 0, s,
             static_cast<const Tap*>(t.y()), static_cast<const Tap*>(t.x(s)), x, y);
}

void interpolate_bilinear_backward(const InterpShape& s, const float* dy, float* dx) {
  if (s.planes == 0 || s.in_h == 0 || s.in_w == 0) return;
  const char* op = "interpolateBackward";
  const Tables t(s, op);
  Buffer<Span> ranges(static_cast<size_t>(s.in_h + s.in_w));
  ANN_LAUNCH(op, axis_ranges_kernel, dim3(blocks_for(s.in_h, kThreads)), dim3(kThreads), 0,
             static_cast<const Tap*>(t.y()), static_cast<int>(s.out_h), static_cast<int>(s.in_h),
             ranges.data());
  ANN_LAUNCH(op, axis_ranges_kernel, dim3(blocks_for(s.in_w, kThreads)), dim3(kThreads), 0,
             static_cast<const Tap*>(t.x(s)), static_cast<int>(s.out_w), static_cast<int>(s.in_w),
             ranges.data() + s.in_h);
  ANN_LAUNCH(op, backward_kernel, rows_grid(s.in_w, s.planes * s.in_h), dim3(kThreads), 0, s,
             static_cast<const Tap*>(t.y()), static_cast<const Tap*>(t.x(s)),
             static_cast<const Span*>(ranges.data()), static_cast<const Span*>(ranges.data() + s.in_h), dy,
             dx);
}

}  // namespace ann::cuda
