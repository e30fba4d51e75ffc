// Cross-entropy over logits [batch, classes, inner] on the GPU, the device twin of the plain loss
// in cpu/loss_ce.cpp, fused with the log-softmax: one thread per pixel walks its classes (inner
// apart, so a warp reads consecutive addresses), and the backward recomputes max and log-sum-exp
// instead of storing probabilities. Sums run in double: per block in a fixed order, then the
// block partials in block order, so results do not depend on scheduling. find_bad_target runs
// here too, and only its answer is copied to the host.
#include <cstdint>

#include "ann/loss.h"
#include "loss_pixel.cuh"

namespace ann::cuda {
namespace {

constexpr int64_t kNone = INT64_MAX;  // no bad label in this range

// Smallest of v over the block (every thread gets it); scratch holds blockDim.x values.
__device__ __forceinline__ int64_t block_min(int64_t v, int64_t* scratch) {
  __syncthreads();
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half && scratch[threadIdx.x + half] < scratch[threadIdx.x])
      scratch[threadIdx.x] = scratch[threadIdx.x + half];
    __syncthreads();
  }
  return scratch[0];
}

__global__ void bad_target_parts_kernel(const int32_t* __restrict__ target, int64_t count, int64_t classes,
                                        int64_t ignore_index, int64_t* __restrict__ parts) {
  __shared__ int64_t scratch[kLossThreads];
  int64_t first = kNone;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t y = target[i];
    if ((y < 0 || y >= classes) && y != ignore_index) {
      first = i;  // a thread's indices rise, so its first bad one is its smallest
      break;
    }
  }
  first = block_min(first, scratch);
  if (threadIdx.x == 0) parts[blockIdx.x] = first;
}

__global__ void bad_target_final_kernel(const int64_t* __restrict__ parts, int64_t n,
                                        int64_t* __restrict__ out) {
  __shared__ int64_t scratch[kLossThreads];
  int64_t first = kNone;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) first = parts[i] < first ? parts[i] : first;
  first = block_min(first, scratch);
  if (threadIdx.x == 0) *out = first == kNone ? -1 : first;
}

// Per pixel l = w[y] * (ls - (x[y] - m)) (0 where ignored); out [pixels] for None, else the
// block's sums of l and of w[y] into parts [2][blocks].
__global__ void ce_forward_kernel(CrossEntropyShape s, const float* __restrict__ logits,
                                  const int32_t* __restrict__ target, const float* __restrict__ weight,
                                  bool per_pixel, float* __restrict__ out, double* __restrict__ parts) {
  __shared__ double scratch[kLossThreads / 32];
  const int64_t P = s.batch * s.inner;
  double sl = 0, sw = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t y = target[i];
    float l = 0;
    if (y != s.ignore_index) {
      const float* x = pixel_logits(s, logits, i);
      const PixelLse e = pixel_lse(x, s.classes, s.inner);
      const float w = weight ? weight[y] : 1.0f;
      l = w * (e.ls - (x[y * s.inner] - e.m));
      sl += l;
      sw += w;
    }
    if (per_pixel) out[i] = l;
  }
  if (per_pixel) return;
  sl = block_sum(sl, scratch);
  sw = block_sum(sw, scratch);
  if (threadIdx.x == 0) parts[blockIdx.x] = sl, parts[gridDim.x + blockIdx.x] = sw;
}

__global__ void ce_forward_final_kernel(const double* __restrict__ parts, int64_t blocks, bool mean,
                                        float* __restrict__ out) {
  __shared__ double scratch[kLossThreads / 32];
  const double sl = sum_parts(parts, blocks, 1, scratch);
  const double sw = sum_parts(parts + blocks, blocks, 1, scratch);
  if (threadIdx.x == 0) out[0] = static_cast<float>(mean ? sl / sw : sl);
}

// parts [blocks] = the block's sum of w[y] over non-ignored pixels.
__global__ void weight_sum_parts_kernel(CrossEntropyShape s, const int32_t* __restrict__ target,
                                        const float* __restrict__ weight, double* __restrict__ parts) {
  __shared__ double scratch[kLossThreads / 32];
  const int64_t P = s.batch * s.inner;
  double sw = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t y = target[i];
    if (y != s.ignore_index) sw += weight ? weight[y] : 1.0;
  }
  sw = block_sum(sw, scratch);
  if (threadIdx.x == 0) parts[blockIdx.x] = sw;
}

__global__ void sum_final_kernel(const double* __restrict__ parts, int64_t blocks, double* __restrict__ out) {
  __shared__ double scratch[kLossThreads / 32];
  const double total = sum_parts(parts, blocks, 1, scratch);
  if (threadIdx.x == 0) *out = total;
}

// dlogits = g * (softmax(x) - onehot(y)), g = dloss[pixel] * w[y] (None) or dloss[0] * w[y]
// (Sum), divided by the weight sum *wsum (Mean); 0 where ignored.
__global__ void ce_backward_kernel(CrossEntropyShape s, const float* __restrict__ dloss,
                                   const double* __restrict__ wsum, const float* __restrict__ logits,
                                   const int32_t* __restrict__ target, const float* __restrict__ weight,
                                   bool per_pixel, float* __restrict__ dlogits) {
  const int64_t P = s.batch * s.inner;
  double scale = per_pixel ? 1.0 : dloss[0];
  if (wsum) scale /= *wsum;  // all weights 0: NaN gradients at valid pixels, as PyTorch
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t y = target[i];
    const float* x = pixel_logits(s, logits, i);
    float* dx = dlogits + (x - logits);
    const PixelLse e = pixel_lse(x, s.classes, s.inner);
    const float g =
        y == s.ignore_index
            ? 0.0f
            : static_cast<float>((per_pixel ? double(dloss[i]) : scale) * (weight ? weight[y] : 1.0f));
    const float f = g / e.sum;
    for (int64_t k = 0; k < s.classes; ++k) {
      const float d = expf(x[k * s.inner] - e.m) * f;
      dx[k * s.inner] = k == y ? d - g : d;
    }
  }
}

}  // namespace

int64_t find_bad_target(const int32_t* target, int64_t count, int64_t classes, int64_t ignore_index) {
  if (count == 0) return -1;
  const char* op = "findBadTarget";
  const unsigned blocks = loss_blocks(count);
  Buffer<int64_t> parts(blocks), out(1);
  ANN_LAUNCH(op, bad_target_parts_kernel, dim3(blocks), dim3(kLossThreads), 0, target, count, classes,
             ignore_index, parts.data());
  ANN_LAUNCH(op, bad_target_final_kernel, dim3(1), dim3(kLossThreads), 0,
             static_cast<const int64_t*>(parts.data()), static_cast<int64_t>(blocks), out.data());
  int64_t first = -1;
  copy_to_host(&first, out.data(), sizeof first);
  return first;
}

void cross_entropy_forward(const CrossEntropyShape& s, const float* logits, const int32_t* target,
                           const float* weight, Reduction r, float* out) {
  const char* op = "crossEntropy";
  const unsigned blocks = loss_blocks(s.pixels());
  const bool per_pixel = r == Reduction::None;
  if (per_pixel && s.pixels() == 0) return;
  Buffer<double> parts(2 * static_cast<size_t>(blocks));
  ANN_LAUNCH(op, ce_forward_kernel, dim3(blocks), dim3(kLossThreads), 0, s, logits, target, weight, per_pixel,
             out, parts.data());
  if (per_pixel) return;
  ANN_LAUNCH(op, ce_forward_final_kernel, dim3(1), dim3(kLossThreads), 0,
             static_cast<const double*>(parts.data()), static_cast<int64_t>(blocks), r == Reduction::Mean,
             out);
}

void cross_entropy_backward(const CrossEntropyShape& s, const float* dloss, const float* logits,
                            const int32_t* target, const float* weight, Reduction r, float* dlogits) {
  if (s.pixels() == 0) return;
  const char* op = "crossEntropyBackward";
  const unsigned blocks = loss_blocks(s.pixels());
  Buffer<double> parts(blocks), wsum(1);
  if (r == Reduction::Mean) {
    ANN_LAUNCH(op, weight_sum_parts_kernel, dim3(blocks), dim3(kLossThreads), 0, s, target, weight,
               parts.data());
    ANN_LAUNCH(op, sum_final_kernel, dim3(1), dim3(kLossThreads), 0, static_cast<const double*>(parts.data()),
               static_cast<int64_t>(blocks), wsum.data());
  }
  ANN_LAUNCH(op, ce_backward_kernel, dim3(blocks), dim3(kLossThreads), 0, s, dloss,
             static_cast<const double*>(r == Reduction::Mean ? wsum.data() : nullptr), logits, target, weight,
             r == Reduction::None, dlogits);
}

}  // namespace ann::cuda
