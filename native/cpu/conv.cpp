// conv2d as GEMMs over the BLAS: a 1x1 stride-1 unpadded conv is W [Cout,Cin] x X_b [Cin,HW];
// any other is W [Cout,Cin*kh*kw] x im2col(X_b). Backward: dW += dY_b x cols^T, dcols = W^T x dY_b
// folded back by a per-channel col2im (each channel's plane is written by one thread, in a fixed
// order, so the result is deterministic).
#include "ann/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "alloc.h"
#include "gemm.h"
#include "parallel.h"
#include "simd.h"

namespace ann {
namespace {

// Below this many flops per image, images run in parallel (one per thread) instead of
// splitting each image's GEMM: small layers are dominated by the per-call overhead.
constexpr double kSmallImageFlops = 2.0e7;

// Output columns [lo, hi) whose input column ow*stride + off lies inside [0, W).
inline void valid_range(int64_t off, int64_t stride, int64_t W, int64_t Wo, int64_t* lo, int64_t* hi) {
  int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t h = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / stride + 1;
  l = std::min(l, Wo);
  h = std::max(l, std::min(h, Wo));
  *lo = l;
  *hi = h;
}

// Rows [r0, r1) of the column matrix of one image; row r is (c, ki, kj) = tap (ki, kj) of channel c.
ANN_INLINE void im2col_impl(const Conv2dShape& s, const float* __restrict x, float* __restrict cols,
                            int64_t r0, int64_t r1) {
  const int64_t H = s.height, W = s.width, Ho = s.out_height(), Wo = s.out_width();
  const int64_t N = Ho * Wo, sh = s.stride_h, sw = s.stride_w, taps = s.kernel_h * s.kernel_w;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / taps, ki = (r % taps) / s.kernel_w, kj = r % s.kernel_w;
    const float* plane = x + c * H * W;
    float* row = cols + r * N;
    const int64_t off = kj * s.dilation_w - s.pad_w;
    int64_t lo, hi;
    valid_range(off, sw, W, Wo, &lo, &hi);
    for (int64_t oh = 0; oh < Ho; ++oh) {
      float* out = row + oh * Wo;
      const int64_t ih = oh * sh - s.pad_h + ki * s.dilation_h;
      if (ih < 0 || ih >= H) {
        std::memset(out, 0, sizeof(float) * Wo);
        continue;
      }
      const float* in = plane + ih * W + off;
      std::fill(out, out + lo, 0.0f);
      if (sw == 1) {
        std::memcpy(out + lo, in + lo, sizeof(float) * (hi - lo));
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * sw];
      }
      std::fill(out + hi, out + Wo, 0.0f);
    }
  }
}
ANN_SIMD_KERNEL(void, im2col,
                (const Conv2dShape& s, const float* __restrict x, float* __restrict cols, int64_t r0,
                 int64_t r1),
                (s, x, cols, r0, r1))

// dx planes [c0, c1) of one image = sum of the column rows that read them.
ANN_INLINE void col2im_impl(const Conv2dShape& s, const float* __restrict cols, float* __restrict dx,
                            int64_t c0, int64_t c1) {
  const int64_t H = s.height, W = s.width, Ho = s.out_height(), Wo = s.out_width();
  const int64_t N = Ho * Wo, sh = s.stride_h, sw = s.stride_w;
  for (int64_t c = c0; c < c1; ++c) {
    float* plane = dx + c * H * W;
    std::memset(plane, 0, sizeof(float) * H * W);
    for (int64_t ki = 0; ki < s.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < s.kernel_w; ++kj) {
        const float* row = cols + ((c * s.kernel_h + ki) * s.kernel_w + kj) * N;
        const int64_t off = kj * s.dilation_w - s.pad_w;
        int64_t lo, hi;
        valid_range(off, sw, W, Wo, &lo, &hi);
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const int64_t ih = oh * sh - s.pad_h + ki * s.dilation_h;
          if (ih < 0 || ih >= H) continue;
          const float* __restrict in = row + oh * Wo;
          float* __restrict out = plane + ih * W + off;
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] += in[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow * sw] += in[ow];
          }
        }
      }
    }
  }
}
ANN_SIMD_KERNEL(void, col2im,
                (const Conv2dShape& s, const float* __restrict cols, float* __restrict dx, int64_t c0,
                 int64_t c1),
                (s, cols, dx, c0, c1))

void im2col_parallel(const Conv2dShape& s, const float* x, float* cols) {
  parallel_for(s.in_channels * s.kernel_h * s.kernel_w, 1,
               [&](int64_t r0, int64_t r1) { im2col(s, x, cols, r0, r1); });
}

void col2im_parallel(const Conv2dShape& s, const float* cols, float* dx) {
  parallel_for(s.in_channels, 1, [&](int64_t c0, int64_t c1) { col2im(s, cols, dx, c0, c1); });
}

double image_flops(const Conv2dShape& s) {
  return 2.0 * s.out_channels * s.in_channels * s.kernel_h * s.kernel_w * s.out_height() * s.out_width();
}

// Splits the batch into `parts` contiguous runs of images: one run for a large image (whose
// work is split over the pool inside it), one per thread for small ones. fn(part, b, cols) runs
// for every image; each run has its own column buffer. The split depends only on the batch size
// and the thread count, so per-run partial sums are reproducible.
int64_t image_parts(const Conv2dShape& s, bool small) {
  return small ? std::min<int64_t>(s.batch, num_threads()) : 1;
}

template <typename Fn>
void for_each_image(const Conv2dShape& s, int64_t cols_size, int64_t parts, Fn fn) {
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    Buffer<float> cols(cols_size);
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t b = p * s.batch / parts; b < (p + 1) * s.batch / parts; ++b) fn(p, b, cols.data());
  });
}

bool small_images(const Conv2dShape& s) {
  return s.batch > 1 && num_threads() > 1 && image_flops(s) < kSmallImageFlops;
}

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const int64_t Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = Cin * s.kernel_h * s.kernel_w;
  const bool pointwise = s.is_pointwise();
  const int64_t parts = image_parts(s, small_images(s));
  for_each_image(s, pointwise ? 0 : K * N, parts, [&](int64_t, int64_t b, float* cols) {
    const float* xb = x + b * Cin * HW;
    float* yb = y + b * Cout * N;
    float beta = 0.0f;
    if (bias) {
      // Start from the bias so the GEMM adds onto it in the same pass.
      for (int64_t o = 0; o < Cout; ++o) std::fill(yb + o * N, yb + (o + 1) * N, bias[o]);
      beta = 1.0f;
    }
    if (pointwise) {
      sgemm(false, false, Cout, N, Cin, 1.0f, weight, Cin, xb, N, beta, yb, N);
    } else {
      im2col_parallel(s, xb, cols);
      sgemm(false, false, Cout, N, K, 1.0f, weight, K, cols, N, beta, yb, N);
    }
  });
}

void conv2d_backward(const Conv2dShape& s, const float* dy, const float* x, const float* weight, float* dx,
                     float* dweight, float* dbias) {
  const int64_t B = s.batch, Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = Cin * s.kernel_h * s.kernel_w;
  const bool pointwise = s.is_pointwise();

  if (dbias) {
    // Double accumulation (eight lanes, which vectorise): one channel sums B*Ho*Wo terms.
    parallel_for(Cout, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double acc = 0.0;
        for (int64_t b = 0; b < B; ++b) {
          const float* p = dy + (b * Cout + o) * N;
          double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          int64_t i = 0;
          for (; i + 8 <= N; i += 8)
            for (int j = 0; j < 8; ++j) part[j] += p[i + j];
          double sum = 0.0;
          for (int j = 0; j < 8; ++j) sum += part[j];
          for (; i < N; ++i) sum += p[i];
          acc += sum;
        }
        dbias[o] = static_cast<float>(acc);
      }
    });
  }
  if (!dx && !dweight) return;

  const int64_t parts = image_parts(s, small_images(s));
  const bool split = parts > 1;
  // With several runs of images in parallel each run sums its weight gradient into its own slot;
  // the slots are added afterwards in run order.
  Buffer<float> dw_parts(split && dweight ? static_cast<size_t>((parts - 1) * Cout * K) : 0);
  // One K x N buffer per run: the columns for dW, then (once dW has used them) the dx columns.
  const int64_t cols_size = pointwise ? 0 : K * N;

  for_each_image(s, cols_size, parts, [&](int64_t p, int64_t b, float* scratch) {
    const float* xb = x + b * Cin * HW;
    const float* dyb = dy + b * Cout * N;
    if (dweight) {
      float* dw = p == 0 ? dweight : dw_parts.data() + (p - 1) * Cout * K;
      const float beta = b == p * B / parts ? 0.0f : 1.0f;  // the run's first image overwrites
      if (pointwise) {
        sgemm(false, true, Cout, Cin, N, 1.0f, dyb, N, xb, N, beta, dw, Cin);
      } else {
        im2col_parallel(s, xb, scratch);
        sgemm(false, true, Cout, K, N, 1.0f, dyb, N, scratch, N, beta, dw, K);
      }
    }
    if (dx) {
      float* dxb = dx + b * Cin * HW;
      if (pointwise) {
        sgemm(true, false, Cin, N, Cout, 1.0f, weight, Cin, dyb, N, 0.0f, dxb, N);
      } else {
        sgemm(true, false, K, N, Cout, 1.0f, weight, K, dyb, N, 0.0f, scratch, N);
        col2im_parallel(s, scratch, dxb);
      }
    }
  });

  if (split && dweight) {
    const int64_t total = Cout * K;
    parallel_for(total, 4096, [&](int64_t i0, int64_t i1) {
      for (int64_t p = 1; p < parts; ++p) {
        const float* part = dw_parts.data() + (p - 1) * total;
        for (int64_t i = i0; i < i1; ++i) dweight[i] += part[i];
      }
    });
  }
}

}  // namespace ann
