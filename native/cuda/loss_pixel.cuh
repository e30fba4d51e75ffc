// What the cross-entropy kernels share (loss_ce.cu, loss_ohem.cu): one pixel's log-sum-exp over
// its classes, the target probability OHEM judges it by, and the fixed-order sum of per-block
// partials. One function for the forward and the backward, so the OHEM probabilities of both come
// from the same instructions and are bit-identical.
#pragma once
#include <algorithm>
#include <cmath>

#include "ann/loss.h"
#include "reduce.cuh"
#include "runtime.h"

namespace ann::cuda {

// Threads per block of every loss kernel, and the most blocks a per-pixel pass uses (each writes
// one partial; the partials are then added in block order).
constexpr int kLossThreads = 256;
constexpr unsigned kLossMaxBlocks = 2048;

inline unsigned loss_blocks(int64_t items) {
  return std::min(stride_blocks(items, kLossThreads), kLossMaxBlocks);
}

// max keeping m where v is NaN, as the CPU's `v > m ? v : m`.
__device__ __forceinline__ float max_into(float v, float m) { return v > m ? v : m; }

// m = max over classes, sum = sum exp(x - m), ls = log(sum), for the pixel whose class values are
// x[0], x[inner], ...
struct PixelLse {
  float m, sum, ls;
};

__device__ __forceinline__ PixelLse pixel_lse(const float* x, int64_t classes, int64_t inner) {
  float m = -INFINITY;
  for (int64_t k = 0; k < classes; ++k) m = max_into(x[k * inner], m);
  float s = 0;
  for (int64_t k = 0; k < classes; ++k) s += expf(x[k * inner] - m);
  return {m, s, logf(s)};
}

__device__ __forceinline__ float target_prob(float xt, const PixelLse& l) { return expf((xt - l.m) - l.ls); }

// The logits of pixel i (of batch * inner) start here; its classes are inner apart.
__device__ __forceinline__ const float* pixel_logits(const CrossEntropyShape& s, const float* logits,
                                                     int64_t i) {
  const int64_t b = i / s.inner;
  return logits + b * s.classes * s.inner + (i - b * s.inner);
}

// Sum of parts[0 .. n) (stride apart) in one block, in an order fixed by n and the block size;
// every thread gets it. Contains barriers: call from all threads.
__device__ __forceinline__ double sum_parts(const double* parts, int64_t n, int64_t stride, double* scratch) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += parts[i * stride];
  return block_sum(acc, scratch);
}

}  // namespace ann::cuda
