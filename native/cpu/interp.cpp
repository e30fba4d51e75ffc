// Bilinear interpolation as two separable passes. Source indices and weights follow PyTorch's
// area_pixel_compute_source_index, computed in double so they agree with the float64 reference.
#include "ann/interp.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "alloc.h"
#include "loss_simd.h"
#include "parallel.h"

namespace ann {
namespace {

// For each output index along one axis: the two source indices and their weights.
struct AxisMap {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
  std::vector<double> d0, d1;  // the same weights in double, for the backward's sums
};

// PyTorch's area_pixel_compute_scale and compute_source_index_and_lambda; `given` is the
// user's scale factor (<= 0: none).
AxisMap axis_map(int64_t in, int64_t out, bool align_corners, double given) {
  AxisMap m;
  m.i0.resize(out);
  m.i1.resize(out);
  m.w0.resize(out);
  m.w1.resize(out);
  m.d0.resize(out);
  m.d1.resize(out);
  double scale;
  if (align_corners)
    scale = out > 1 ? double(in - 1) / double(out - 1) : 0.0;
  else
    scale = given > 0 ? 1.0 / given : double(in) / double(out);
  for (int64_t o = 0; o < out; ++o) {
    if (in == out) {  // PyTorch copies an axis whose size is kept, whatever the scale factor
      m.i0[o] = m.i1[o] = o;
      m.w0[o] = 1.f;
      m.w1[o] = 0.f;
      m.d0[o] = 1.0;
      m.d1[o] = 0.0;
      continue;
    }
    double src = align_corners ? scale * double(o) : scale * (double(o) + 0.5) - 0.5;
    if (src < 0) src = 0;
    const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
    const double l1 = std::min(std::max(src - double(i0), 0.0), 1.0);
    m.i0[o] = i0;
    m.i1[o] = i0 + (i0 < in - 1 ? 1 : 0);
    m.w1[o] = static_cast<float>(l1);
    m.w0[o] = static_cast<float>(1.0 - l1);
    m.d1[o] = l1;
    m.d0[o] = 1.0 - l1;
  }
  return m;
}

// One input row resampled to the output width.
void resample_row(const float* row, const AxisMap& mx, int64_t out_w, float* h) {
  const int64_t* i0 = mx.i0.data();
  const int64_t* i1 = mx.i1.data();
  const float* w0 = mx.w0.data();
  const float* w1 = mx.w1.data();
  for (int64_t j = 0; j < out_w; ++j) h[j] = w0[j] * row[i0[j]] + w1[j] * row[i1[j]];
}

ANN_INLINE void blend_rows_impl(float a, const float* h0, float b, const float* h1, float* y, int64_t n) {
  using namespace simd;
  int64_t j = 0;
  for (; j + W <= n; j += W) store(y + j, splat(a) * load(h0 + j) + splat(b) * load(h1 + j));
  for (; j < n; ++j) y[j] = a * h0[j] + b * h1[j];
}
ANN_SIMD_KERNEL(void, blend_rows, (float a, const float* h0, float b, const float* h1, float* y, int64_t n),
                (a, h0, b, h1, y, n))

// y += a * x into double: the backward sums up to (out/in)^2 weighted terms per input pixel.
ANN_INLINE void axpy_impl(double a, const float* x, double* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}
ANN_SIMD_KERNEL(void, axpy, (double a, const float* x, double* y, int64_t n), (a, x, y, n))

}  // namespace

void interpolate_bilinear_forward(const InterpShape& s, const float* x, float* y) {
  const AxisMap my = axis_map(s.in_h, s.out_h, s.align_corners, s.scale_h);
  const AxisMap mx = axis_map(s.in_w, s.out_w, s.align_corners, s.scale_w);
  // Tasks are (plane, block of output rows) so that few large planes still use every thread.
  const int64_t rows_per_task = 64;
  const int64_t blocks = (s.out_h + rows_per_task - 1) / rows_per_task;
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  parallel_for(s.planes * blocks, 1, [&](int64_t begin, int64_t end) {
    // Two resampled input rows; consecutive output rows mostly reuse them when upsampling.
    Buffer<float> buf(2 * static_cast<size_t>(s.out_w));
    float* slot[2] = {buf.data(), buf.data() + s.out_w};
    for (int64_t task = begin; task < end; ++task) {
      const int64_t p = task / blocks;
      const int64_t r0 = (task % blocks) * rows_per_task;
      const int64_t r1 = std::min(s.out_h, r0 + rows_per_task);
      const float* xp = x + p * in_plane;
      float* yp = y + p * out_plane;
      int64_t have[2] = {-1, -1};
      auto row = [&](int64_t r, int64_t keep) -> const float* {
        if (have[0] == r) return slot[0];
        if (have[1] == r) return slot[1];
        const int k = have[0] == keep ? 1 : 0;  // never evict the other row this output row needs
        resample_row(xp + r * s.in_w, mx, s.out_w, slot[k]);
        have[k] = r;
        return slot[k];
      };
      for (int64_t o = r0; o < r1; ++o) {
        const int64_t a = my.i0[o], b = my.i1[o];
        const float* h0 = row(a, b);
        const float* h1 = row(b, a);
        blend_rows(my.w0[o], h0, my.w1[o], h1, yp + o * s.out_w, s.out_w);
      }
    }
  });
}

void interpolate_bilinear_backward(const InterpShape& s, const float* dy, float* dx) {
  const AxisMap my = axis_map(s.in_h, s.out_h, s.align_corners, s.scale_h);
  const AxisMap mx = axis_map(s.in_w, s.out_w, s.align_corners, s.scale_w);
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
    // Vertical pass into t [in_h, out_w], then horizontal scatter into a row of dx; both serial per
    // plane and in double, rounded once.
    Buffer<double> t(static_cast<size_t>(s.in_h * s.out_w)), row(static_cast<size_t>(s.in_w));
    for (int64_t p = begin; p < end; ++p) {
      const float* g = dy + p * out_plane;
      float* d = dx + p * in_plane;
      std::fill(t.data(), t.data() + t.size(), 0.0);
      for (int64_t o = 0; o < s.out_h; ++o) {
        axpy(my.d0[o], g + o * s.out_w, t.data() + my.i0[o] * s.out_w, s.out_w);
        axpy(my.d1[o], g + o * s.out_w, t.data() + my.i1[o] * s.out_w, s.out_w);
      }
      for (int64_t r = 0; r < s.in_h; ++r) {
        const double* tr = t.data() + r * s.out_w;
        double* dr = row.data();
        std::fill(dr, dr + s.in_w, 0.0);
        for (int64_t j = 0; j < s.out_w; ++j) {
          dr[mx.i0[j]] += mx.d0[j] * tr[j];
          dr[mx.i1[j]] += mx.d1[j] * tr[j];
        }
        for (int64_t j = 0; j < s.in_w; ++j) d[r * s.in_w + j] = static_cast<float>(dr[j]);
      }
    }
  });
}

}  // namespace ann
