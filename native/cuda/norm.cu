// Batch norm on the GPU, the device twin of cpu/norm.cpp and the same arithmetic: statistics in
// double over two passes (sum, then squared deviations from the exact mean), the train forward's
// per-element transform in float as PyTorch's, the eval forward and the backward per element in
// double rounded once, and the backward re-centred on the exact mean.
// Each channel's B*S values are split into `parts` contiguous ranges, one block each, so that a
// few channels of many values still fill the GPU; a block reduces its range in a fixed order
// (block_sum) and the per-channel finalize adds the parts in part order: deterministic.
#include <algorithm>
#include <cmath>

#include "ann/norm.h"
#include "reduce.cuh"
#include "runtime.h"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxGridY = 65535;

// Blocks per channel: enough for ~2048 blocks in all, but no fewer than 4096 values a block.
int64_t parts_for(const BatchNormShape& s) {
  const int64_t by_grid = (2048 + s.channels - 1) / std::max<int64_t>(s.channels, 1);
  const int64_t by_size = (s.count() + 4095) / 4096;
  return std::max<int64_t>(1, std::min(by_grid, by_size));
}

dim3 channel_grid(const BatchNormShape& s, int64_t parts) {
  return dim3(static_cast<unsigned>(parts),
              static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(s.channels, 1), kMaxGridY)));
}

// Calls f(offset) for the offsets into [B, C, S] of this thread's share of values [lo, hi) of
// channel c (value i is b = i / S, position i % S), stepping by the block size without dividing.
template <class F>
__device__ __forceinline__ void for_channel_range(const BatchNormShape& s, int64_t c, int64_t lo, int64_t hi,
                                                  F& f) {
  const int64_t S = s.spatial, step = blockDim.x, step_b = step / S, step_s = step % S;
  int64_t i = lo + threadIdx.x;
  if (i >= hi) return;
  int64_t b = i / S, j = i - b * S;
  for (; i < hi; i += step) {
    f((b * s.channels + c) * S + j);
    j += step_s;
    b += step_b;
    if (j >= S) {
      j -= S;
      ++b;
    }
  }
}

// BatchNormShape::count for device code (the header's member is host-only).
__device__ __forceinline__ int64_t values(const BatchNormShape& s) { return s.batch * s.spatial; }

__device__ __forceinline__ int64_t range_lo(const BatchNormShape& s, int64_t part, int64_t parts) {
  return part * values(s) / parts;
}

// The parts of channel c added in part order.
__device__ __forceinline__ double channel_total(const double* part, int64_t c, int64_t parts) {
  double t = 0;
  for (int64_t p = 0; p < parts; ++p) t += part[c * parts + p];
  return t;
}

struct SumOp {
  const float* x;
  double acc;
  __device__ void operator()(int64_t at) { acc += x[at]; }
};

struct SqDevOp {
  const float* x;
  double mean, acc;
  __device__ void operator()(int64_t at) {
    const double d = x[at] - mean;
    acc += d * d;
  }
};

// part[c * parts + p] = sum of x (sums == null) or of (x - mean)^2, mean = total(sums) / n.
__global__ void stat_parts_kernel(BatchNormShape s, const float* __restrict__ x,
                                  const double* __restrict__ sums, int64_t parts, double* __restrict__ part) {
  __shared__ double scratch[kThreads / 32];
  const int64_t p = blockIdx.x, lo = range_lo(s, p, parts), hi = range_lo(s, p + 1, parts);
  for (int64_t c = blockIdx.y; c < s.channels; c += gridDim.y) {
    double acc;
    if (sums) {
      SqDevOp op{x, channel_total(sums, c, parts) / static_cast<double>(values(s)), 0.0};
      for_channel_range(s, c, lo, hi, op);
      acc = op.acc;
    } else {
      SumOp op{x, 0.0};
      for_channel_range(s, c, lo, hi, op);
      acc = op.acc;
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) part[c * parts + p] = acc;
  }
}

// Per channel: the statistics, the running-stat update and the float coefficients of
// y = (x - mean) * scale + shift (coef [C][3]).
__global__ void train_finalize_kernel(BatchNormShape s, const double* __restrict__ sums,
                                      const double* __restrict__ sqdev, int64_t parts, const float* weight,
                                      const float* bias, float* running_mean, float* running_var,
                                      double momentum, double eps, float* save_mean, float* save_invstd,
                                      float* coef) {
  const int64_t n = values(s);
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < s.channels;
       c += int64_t(gridDim.x) * blockDim.x) {
    const double mean = channel_total(sums, c, parts) / static_cast<double>(n);
    const double ss = channel_total(sqdev, c, parts);
    const double invstd = 1.0 / sqrt(ss / static_cast<double>(n) + eps);
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    if (running_mean)
      running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mean);
    if (running_var) {
      const double unbiased = n > 1 ? ss / static_cast<double>(n - 1) : NAN;
      running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * unbiased);
    }
    const double w = weight ? weight[c] : 1.0;
    coef[3 * c] = static_cast<float>(mean);
    coef[3 * c + 1] = static_cast<float>(w * invstd);
    coef[3 * c + 2] = bias ? bias[c] : 0.0f;
  }
}

// (x - m) * s + h with the product rounded before the sum, as the CPU's float formula (nvcc would
// otherwise fuse it into one FMA; the emulator's host compiler has no FMA at its baseline).
__device__ __forceinline__ float affine_unfused(float x, float m, float s, float h) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(x - m, s), h);
#else
  return (x - m) * s + h;
#endif
}

struct AffineOp {
  const float* x;
  float* y;
  float m, sc, h;
  __device__ void operator()(int64_t at) { y[at] = affine_unfused(x[at], m, sc, h); }
};

struct AffineExactOp {
  const float* x;
  float* y;
  double m, sc, h;
  __device__ void operator()(int64_t at) { y[at] = static_cast<float>((x[at] - m) * sc + h); }
};

__global__ void affine_kernel(BatchNormShape s, const float* __restrict__ x, const float* __restrict__ coef,
                              int64_t parts, float* __restrict__ y) {
  const int64_t p = blockIdx.x, lo = range_lo(s, p, parts), hi = range_lo(s, p + 1, parts);
  for (int64_t c = blockIdx.y; c < s.channels; c += gridDim.y) {
    AffineOp op{x, y, coef[3 * c], coef[3 * c + 1], coef[3 * c + 2]};
    for_channel_range(s, c, lo, hi, op);
  }
}

// Evaluation: each y in double from running_mean and invstd = 1 / sqrt(running_var + eps).
__global__ void eval_kernel(BatchNormShape s, const float* __restrict__ x, const float* weight,
                            const float* bias, const float* __restrict__ running_mean,
                            const float* __restrict__ running_var, double eps, int64_t parts,
                            float* __restrict__ y, float* save_mean, float* save_invstd) {
  const int64_t p = blockIdx.x, lo = range_lo(s, p, parts), hi = range_lo(s, p + 1, parts);
  for (int64_t c = blockIdx.y; c < s.channels; c += gridDim.y) {
    const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    if (p == 0 && threadIdx.x == 0) {
      save_mean[c] = running_mean[c];
      save_invstd[c] = static_cast<float>(invstd);
    }
    AffineExactOp op{x, y, running_mean[c], (weight ? weight[c] : 1.0) * invstd, bias ? bias[c] : 0.0};
    for_channel_range(s, c, lo, hi, op);
  }
}

struct GradSumsOp {
  const float *dy, *x;
  double mean, sum_dy, dot, sum_dx;
  __device__ void operator()(int64_t at) {
    const double c = x[at] - mean;
    sum_dy += dy[at];
    dot += dy[at] * c;
    sum_dx += c;
  }
};

// part [3][C * parts]: sums of dy, dy * (x - mean) and (x - mean), mean = save_mean.
__global__ void grad_parts_kernel(BatchNormShape s, const float* __restrict__ dy, const float* __restrict__ x,
                                  const float* __restrict__ save_mean, int64_t parts,
                                  double* __restrict__ part) {
  __shared__ double scratch[kThreads / 32];
  const int64_t p = blockIdx.x, lo = range_lo(s, p, parts), hi = range_lo(s, p + 1, parts);
  const int64_t stride = s.channels * parts;
  for (int64_t c = blockIdx.y; c < s.channels; c += gridDim.y) {
    GradSumsOp op{dy, x, save_mean[c], 0.0, 0.0, 0.0};
    for_channel_range(s, c, lo, hi, op);
    const double a = block_sum(op.sum_dy, scratch);
    const double d = block_sum(op.dot, scratch);
    const double e = block_sum(op.sum_dx, scratch);
    if (threadIdx.x == 0) {
      part[c * parts + p] = a;
      part[stride + c * parts + p] = d;
      part[2 * stride + c * parts + p] = e;
    }
  }
}

// Per channel: dweight, dbias and the double coefficients of
// dx = (dy - mean_dy - (x - mean) * k) * scale (coef [C][4]: mean, mean_dy, k, scale).
__global__ void grad_finalize_kernel(BatchNormShape s, const double* __restrict__ part, int64_t parts,
                                     const float* weight, const float* __restrict__ save_mean,
                                     const float* __restrict__ save_invstd, bool training, float* dweight,
                                     float* dbias, double* coef) {
  const int64_t n = values(s), stride = s.channels * parts;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < s.channels;
       c += int64_t(gridDim.x) * blockDim.x) {
    const double invstd = save_invstd[c];
    double mean = save_mean[c], sum_dy = 0, dot = 0;
    if (part) {
      sum_dy = channel_total(part, c, parts);
      dot = channel_total(part + stride, c, parts);
      if (training) {
        // The saved mean is rounded to float; the forward normalised with the exact one. Centre on
        // that again (sum (x - mean) must be 0), or every dx carries the rounding times n into sums.
        const double shift = channel_total(part + 2 * stride, c, parts) / static_cast<double>(n);
        mean += shift;
        dot -= shift * sum_dy;
      }
    }
    if (dbias) dbias[c] = static_cast<float>(sum_dy);
    if (dweight) dweight[c] = static_cast<float>(dot * invstd);
    if (!coef) continue;
    coef[4 * c] = mean;
    coef[4 * c + 1] = training ? sum_dy / static_cast<double>(n) : 0.0;
    coef[4 * c + 2] = training ? dot / static_cast<double>(n) * invstd * invstd : 0.0;
    coef[4 * c + 3] = (weight ? weight[c] : 1.0) * invstd;
  }
}

struct GradInputOp {
  const float *dy, *x;
  float* dx;
  double mean, mean_dy, k, scale;
  bool training;
  __device__ void operator()(int64_t at) {
    dx[at] = training ? static_cast<float>((dy[at] - mean_dy - (x[at] - mean) * k) * scale)
                      : static_cast<float>(dy[at] * scale);
  }
};

__global__ void grad_input_kernel(BatchNormShape s, const float* __restrict__ dy, const float* __restrict__ x,
                                  const double* __restrict__ coef, bool training, int64_t parts,
                                  float* __restrict__ dx) {
  const int64_t p = blockIdx.x, lo = range_lo(s, p, parts), hi = range_lo(s, p + 1, parts);
  for (int64_t c = blockIdx.y; c < s.channels; c += gridDim.y) {
    GradInputOp op{dy, x, dx, coef[4 * c], coef[4 * c + 1], coef[4 * c + 2], coef[4 * c + 3], training};
    for_channel_range(s, c, lo, hi, op);
  }
}

unsigned channel_threads_grid(const BatchNormShape& s) {
  return std::min<unsigned>(blocks_for(s.channels, kThreads), 1024u);
}

}  // namespace

void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, double momentum, double eps, float* y,
                              float* save_mean, float* save_invstd) {
  if (s.channels == 0) return;
  const char* op = "batchNorm";
  const int64_t parts = parts_for(s);
  const dim3 grid = channel_grid(s, parts);
  Buffer<double> sums(static_cast<size_t>(s.channels * parts)),
      sqdev(static_cast<size_t>(s.channels * parts));
  Buffer<float> coef(static_cast<size_t>(3 * s.channels));
  ANN_LAUNCH(op, stat_parts_kernel, grid, dim3(kThreads), 0, s, x, static_cast<const double*>(nullptr), parts,
             sums.data());
  ANN_LAUNCH(op, stat_parts_kernel, grid, dim3(kThreads), 0, s, x, static_cast<const double*>(sums.data()),
             parts, sqdev.data());
  ANN_LAUNCH(op, train_finalize_kernel, dim3(channel_threads_grid(s)), dim3(kThreads), 0, s,
             static_cast<const double*>(sums.data()), static_cast<const double*>(sqdev.data()), parts, weight,
             bias, running_mean, running_var, momentum, eps, save_mean, save_invstd, coef.data());
  ANN_LAUNCH(op, affine_kernel, grid, dim3(kThreads), 0, s, x, static_cast<const float*>(coef.data()), parts,
             y);
}

void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, double eps, float* y,
                             float* save_mean, float* save_invstd) {
  if (s.channels == 0) return;
  const int64_t parts = parts_for(s);
  ANN_LAUNCH("batchNorm", eval_kernel, channel_grid(s, parts), dim3(kThreads), 0, s, x, weight, bias,
             running_mean, running_var, eps, parts, y, save_mean, save_invstd);
}

void batch_norm_backward(const BatchNormShape& s, const float* dy, const float* x, const float* weight,
                         const float* save_mean, const float* save_invstd, bool training, float* dx,
                         float* dweight, float* dbias) {
  if (s.channels == 0 || (!dx && !dweight && !dbias)) return;
  const char* op = "batchNormBackward";
  const int64_t parts = parts_for(s);
  const dim3 grid = channel_grid(s, parts);
  const bool need_sums = dweight || dbias || (dx && training);
  Buffer<double> part_buf(need_sums ? static_cast<size_t>(3 * s.channels * parts) : 1);
  Buffer<double> coef_buf(dx ? static_cast<size_t>(4 * s.channels) : 1);
  double* part = need_sums ? part_buf.data() : nullptr;
  double* coef = dx ? coef_buf.data() : nullptr;
  if (need_sums) {
    ANN_LAUNCH(op, grad_parts_kernel, grid, dim3(kThreads), 0, s, dy, x, save_mean, parts, part);
  }
  ANN_LAUNCH(op, grad_finalize_kernel, dim3(channel_threads_grid(s)), dim3(kThreads), 0, s,
             static_cast<const double*>(part), parts, weight, save_mean, save_invstd, training, dweight,
             dbias, coef);
  if (dx) {
    ANN_LAUNCH(op, grad_input_kernel, grid, dim3(kThreads), 0, s, dy, x, static_cast<const double*>(coef),
               training, parts, dx);
  }
}

}  // namespace ann::cuda
