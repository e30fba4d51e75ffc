// conv2d on the GPU as cuBLAS GEMMs, the device twin of cpu/conv.cpp: a 1x1 stride-1 unpadded conv
// is W [Cout,Cin] x X_b [Cin,HW]; any other is W [Cout,K] x im2col(X_b), K = Cin*kh*kw. The column
// matrix of one image can reach gigabytes (2048 -> 512 channels 3x3 at 97x97 is 694 MB), so it is
// built in chunks of output positions that fit a bound (conv_workspace.h). Backward: dW += dY x cols^T per
// chunk (float accumulation in the GEMM, as the CPU does over images), dcols = W^T x dY folded back by a
// gather col2im (each dx element sums its taps in (ki, kj) order: the CPU's order, no atomics), and
// the bias gradient per channel in double over a fixed block reduction.
#include <algorithm>

#include "ann/conv.h"
#include "blas.h"
#include "conv_workspace.h"
#include "reduce.cuh"
#include "runtime.h"

namespace ann::cuda {
namespace {

// Floats of im2col workspace per call: 256 MiB by default. A chunk still gives cuBLAS thousands
// of columns at the model's widths (K = 18432 -> 3640 columns).
int64_t cols_budget = int64_t(1) << 26;
constexpr int kThreads = 256;
constexpr unsigned kMaxGridY = 65535;

// The geometry in 32-bit ints: the binding keeps every size and index product below 2^31.
struct Geom {
  int C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};

Geom geom(const Conv2dShape& s) {
  return {static_cast<int>(s.in_channels),  static_cast<int>(s.height),      static_cast<int>(s.width),
          static_cast<int>(s.out_height()), static_cast<int>(s.out_width()), static_cast<int>(s.kernel_h),
          static_cast<int>(s.kernel_w),     static_cast<int>(s.stride_h),    static_cast<int>(s.stride_w),
          static_cast<int>(s.pad_h),        static_cast<int>(s.pad_w),       static_cast<int>(s.dilation_h),
          static_cast<int>(s.dilation_w)};
}

// cols [K, len] = the column matrix of one image x [C, H, W] at output positions n0 .. n0 + len.
// Row r is tap (ki, kj) of channel c: r = (c * kh + ki) * kw + kj.
__global__ void im2col_kernel(Geom g, const float* __restrict__ x, float* __restrict__ cols, int K, int n0,
                              int len) {
  const int taps = g.kh * g.kw;
  for (int r = blockIdx.y; r < K; r += gridDim.y) {
    const int c = r / taps, t = r - c * taps, ki = t / g.kw, kj = t - ki * g.kw;
    const float* plane = x + static_cast<int64_t>(c) * g.H * g.W;
    float* row = cols + static_cast<int64_t>(r) * len;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < len; i += gridDim.x * blockDim.x) {
      const int n = n0 + i, oh = n / g.Wo, ow = n - oh * g.Wo;
      const int ih = oh * g.sh - g.ph + ki * g.dh, iw = ow * g.sw - g.pw + kj * g.dw;
      row[i] =
          (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? plane[static_cast<int64_t>(ih) * g.W + iw] : 0.0f;
    }
  }
}

// dx rows [ih0, ih1) of one image from dcols [K, len] (output positions n0 .. n0 + len): each element
// sums the column entries that read it, taps in (ki, kj) order. `accumulate` adds onto dx (a later
// chunk); otherwise the sum overwrites it.
__global__ void col2im_kernel(Geom g, const float* __restrict__ dcols, float* __restrict__ dx, int n0,
                              int len, int ih0, int ih1, bool accumulate) {
  const int rows = ih1 - ih0, per_plane = rows * g.W;
  for (int c = blockIdx.y; c < g.C; c += gridDim.y) {
    float* plane = dx + static_cast<int64_t>(c) * g.H * g.W;
    const float* base = dcols + static_cast<int64_t>(c) * g.kh * g.kw * len;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < per_plane; i += gridDim.x * blockDim.x) {
      const int ih = ih0 + i / g.W, iw = i % g.W;
      float acc = 0.0f;
      for (int ki = 0; ki < g.kh; ++ki) {
        const int t = ih + g.ph - ki * g.dh;
        if (t < 0) break;  // t only falls as ki grows
        if (t % g.sh != 0) continue;
        const int oh = t / g.sh;
        if (oh >= g.Ho) continue;
        for (int kj = 0; kj < g.kw; ++kj) {
          const int u = iw + g.pw - kj * g.dw;
          if (u < 0) break;
          if (u % g.sw != 0) continue;
          const int ow = u / g.sw;
          if (ow >= g.Wo) continue;
          const int n = oh * g.Wo + ow - n0;
          if (n < 0 || n >= len) continue;
          acc += base[static_cast<int64_t>(ki * g.kw + kj) * len + n];
        }
      }
      float* out = plane + static_cast<int64_t>(ih) * g.W + iw;
      *out = accumulate ? *out + acc : acc;
    }
  }
}

// y [planes, n] = bias[plane % channels]: the GEMM then adds onto it (beta = 1), as on the CPU.
__global__ void fill_bias_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t planes,
                                 int channels, int64_t n) {
  for (int64_t p = blockIdx.y; p < planes; p += gridDim.y) {
    const float v = bias[p % channels];
    float* row = y + p * n;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x)
      row[i] = v;
  }
}

// dbias[o] = sum over images and positions of dy[b, o, :], in double, one block per channel.
__global__ void bias_grad_kernel(const float* __restrict__ dy, float* __restrict__ dbias, int64_t batch,
                                 int channels, int64_t n) {
  __shared__ double scratch[kThreads / 32];
  for (int o = blockIdx.x; o < channels; o += gridDim.x) {
    double acc = 0.0;
    for (int64_t b = 0; b < batch; ++b) {
      const float* p = dy + (b * channels + o) * n;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += p[i];
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) dbias[o] = static_cast<float>(acc);
  }
}

__global__ void zero_kernel(float* __restrict__ p, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = 0.0f;
}

void zero(float* p, int64_t n) {
  ANN_LAUNCH("conv2dBackward", zero_kernel, dim3(std::min<unsigned>(blocks_for(n, kThreads), 4096u)),
             dim3(kThreads), 0, p, n);
}

dim3 plane_grid(int64_t per_plane, int64_t planes) {
  return dim3(std::min<unsigned>(blocks_for(per_plane, kThreads), 4096u),
              static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(planes, 1), kMaxGridY)));
}

// Output positions per chunk of the column matrix: all of them when they fit the budget, else a
// multiple of 32 (whole warps, aligned GEMM columns) of at least 32.
int64_t chunk_positions(int64_t K, int64_t N) {
  if (K * N <= cols_budget) return N;
  const int64_t fit = std::max<int64_t>(32, cols_budget / K / 32 * 32);
  return std::min(fit, N);
}

void im2col(const Geom& g, const float* xb, float* cols, int64_t K, int64_t n0, int64_t len) {
  ANN_LAUNCH("conv2d", im2col_kernel, plane_grid(len, K), dim3(kThreads), 0, g, xb, cols, static_cast<int>(K),
             static_cast<int>(n0), static_cast<int>(len));
}

// Folds the chunk's dcols into dx of one image: the first chunk writes every row; a later one
// adds onto the rows its output positions read.
void col2im(const Geom& g, const float* dcols, float* dxb, int64_t n0, int64_t len, bool first) {
  int ih0 = 0, ih1 = g.H;
  if (!first) {
    const int oh0 = static_cast<int>(n0 / g.Wo), oh1 = static_cast<int>((n0 + len - 1) / g.Wo);
    ih0 = std::max(0, oh0 * g.sh - g.ph);
    ih1 = std::min(g.H, oh1 * g.sh - g.ph + (g.kh - 1) * g.dh + 1);
    if (ih1 <= ih0) return;
  }
  ANN_LAUNCH("conv2dBackward", col2im_kernel, plane_grid(int64_t(ih1 - ih0) * g.W, g.C), dim3(kThreads), 0, g,
             dcols, dxb, static_cast<int>(n0), static_cast<int>(len), ih0, ih1, !first);
}

}  // namespace

int64_t conv_workspace_floats() { return cols_budget; }
void set_conv_workspace_floats(int64_t floats) { cols_budget = std::max<int64_t>(floats, 1); }

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const int64_t B = s.batch, Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = Cin * s.kernel_h * s.kernel_w;
  if (B == 0 || Cout == 0 || N == 0) return;
  float beta = 0.0f;
  if (bias) {
    ANN_LAUNCH("conv2d", fill_bias_kernel, plane_grid(N, B * Cout), dim3(kThreads), 0, y, bias, B * Cout,
               static_cast<int>(Cout), N);
    beta = 1.0f;
  }
  if (s.is_pointwise()) {
    // One call for the batch: the weight shared (stride 0), image b at x + b*Cin*HW, y + b*Cout*N.
    sgemm_strided_batched(false, false, Cout, N, Cin, 1.0f, weight, Cin, 0, x, N, Cin * HW, beta, y, N,
                          Cout * N, B);
    return;
  }
  const Geom g = geom(s);
  const int64_t chunk = chunk_positions(K, N);
  Buffer<float> cols(static_cast<size_t>(K * chunk));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
      const int64_t len = std::min(chunk, N - n0);
      im2col(g, x + b * Cin * HW, cols.data(), K, n0, len);
      sgemm(false, false, Cout, len, K, 1.0f, weight, K, cols.data(), len, beta, y + b * Cout * N + n0, N);
    }
  }
}

void conv2d_backward(const Conv2dShape& s, const float* dy, const float* x, const float* weight, float* dx,
                     float* dweight, float* dbias) {
  const int64_t B = s.batch, Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = Cin * s.kernel_h * s.kernel_w;

  if (dbias) {
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(Cout, 1), kMaxGridY));
    ANN_LAUNCH("conv2dBackward", bias_grad_kernel, dim3(grid), dim3(kThreads), 0, dy, dbias, B,
               static_cast<int>(Cout), N);
  }
  if (!dx && !dweight) return;

  if (s.is_pointwise()) {
    // dW sums over the images (each GEMM adds onto the last, as on the CPU); dx is one batched call.
    if (dweight)
      for (int64_t b = 0; b < B; ++b)
        sgemm(false, true, Cout, Cin, N, 1.0f, dy + b * Cout * N, N, x + b * Cin * HW, N,
              b == 0 ? 0.0f : 1.0f, dweight, Cin);
    if (dx)
      sgemm_strided_batched(true, false, Cin, N, Cout, 1.0f, weight, Cin, 0, dy, N, Cout * N, 0.0f, dx, N,
                            Cin * HW, B);
    if (dweight && B == 0) zero(dweight, Cout * Cin);
    return;
  }

  const Geom g = geom(s);
  const int64_t chunk = chunk_positions(K, N);
  // One buffer per chunk: the columns for dW, then (once dW has used them) the dx columns.
  Buffer<float> scratch(static_cast<size_t>(K * chunk));
  bool first_dw = true;
  for (int64_t b = 0; b < B; ++b) {
    const float* xb = x + b * Cin * HW;
    const float* dyb = dy + b * Cout * N;
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
      const int64_t len = std::min(chunk, N - n0);
      if (dweight) {
        im2col(g, xb, scratch.data(), K, n0, len);
        sgemm(false, true, Cout, K, len, 1.0f, dyb + n0, N, scratch.data(), len, first_dw ? 0.0f : 1.0f,
              dweight, K);
        first_dw = false;
      }
      if (dx) {
        sgemm(true, false, K, len, Cout, 1.0f, weight, K, dyb + n0, N, 0.0f, scratch.data(), len);
        col2im(g, scratch.data(), dx + b * Cin * HW, n0, len, n0 == 0);
      }
    }
  }
  if (dweight && first_dw) zero(dweight, Cout * K);  // an empty batch
}

}  // namespace ann::cuda
