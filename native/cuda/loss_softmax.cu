// Softmax, log-softmax and argmax over the middle axis of [outer, n, inner] on the GPU, the device
// twin of cpu/loss_softmax.cpp with the same float arithmetic: max, then the sum of exp(x - max),
// then y = e * (1 / sum) or (x - max) - log(sum).
// inner > 1 (NCHW channels): one thread per (outer, inner) position walks the n values, inner
// apart, so a warp reads consecutive addresses. inner == 1 (last axis): one warp per row, the
// lanes striding over it and combining by butterfly shuffles (every lane gets the same value).
#include <algorithm>
#include <cmath>

#include "ann/loss.h"
#include "loss_pixel.cuh"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

unsigned position_grid(int64_t positions) {
  return std::min<unsigned>(blocks_for(positions, kThreads), 65535u);
}
unsigned row_grid(int64_t rows) { return std::min<unsigned>(blocks_for(rows, kWarps), 65535u); }

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = max_into(__shfl_xor_sync(0xffffffffu, v, offset), v);
  return v;
}

__global__ void softmax_columns_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer,
                                       int64_t n, int64_t inner, bool log) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < outer * inner;
       at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = at / inner, off = o * n * inner + (at - o * inner);
    const float* xp = x + off;
    float* yp = y + off;
    float m = -INFINITY;
    for (int64_t k = 0; k < n; ++k) m = max_into(xp[k * inner], m);
    float s = 0;
    for (int64_t k = 0; k < n; ++k) s += (yp[k * inner] = expf(xp[k * inner] - m));
    if (log) {
      const float ls = logf(s);
      for (int64_t k = 0; k < n; ++k) yp[k * inner] = (xp[k * inner] - m) - ls;
    } else {
      const float inv = 1.0f / s;
      for (int64_t k = 0; k < n; ++k) yp[k * inner] *= inv;
    }
  }
}

__global__ void softmax_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                    int64_t n, bool log) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = blockIdx.x * int64_t(kWarps) + (threadIdx.x >> 5); row < rows;
       row += int64_t(gridDim.x) * kWarps) {
    const float* xp = x + row * n;
    float* yp = y + row * n;
    float m = -INFINITY;
    for (int64_t k = lane; k < n; k += 32) m = max_into(xp[k], m);
    m = warp_max(m);
    float s = 0;
    for (int64_t k = lane; k < n; k += 32) s += (yp[k] = expf(xp[k] - m));
    s = warp_sum(s);
    if (log) {
      const float ls = logf(s);
      for (int64_t k = lane; k < n; k += 32) yp[k] = (xp[k] - m) - ls;
    } else {
      const float inv = 1.0f / s;
      for (int64_t k = lane; k < n; k += 32) yp[k] *= inv;
    }
  }
}

// softmax: dx = y * (dy - sum(dy * y)); log: dx = dy - exp(y) * sum(dy).
__device__ __forceinline__ float softmax_grad(float g, float yk, float s, bool log) {
  return log ? g - expf(yk) * s : yk * (g - s);
}

__global__ void softmax_backward_columns_kernel(const float* __restrict__ dy, const float* __restrict__ y,
                                                float* __restrict__ dx, int64_t outer, int64_t n,
                                                int64_t inner, bool log) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < outer * inner;
       at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = at / inner, off = o * n * inner + (at - o * inner);
    float s = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = off + k * inner;
      s += log ? dy[i] : dy[i] * y[i];
    }
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = off + k * inner;
      dx[i] = softmax_grad(dy[i], y[i], s, log);
    }
  }
}

__global__ void softmax_backward_rows_kernel(const float* __restrict__ dy, const float* __restrict__ y,
                                             float* __restrict__ dx, int64_t rows, int64_t n, bool log) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = blockIdx.x * int64_t(kWarps) + (threadIdx.x >> 5); row < rows;
       row += int64_t(gridDim.x) * kWarps) {
    const int64_t base = row * n;
    float s = 0;
    for (int64_t k = lane; k < n; k += 32) s += log ? dy[base + k] : dy[base + k] * y[base + k];
    s = warp_sum(s);
    for (int64_t k = lane; k < n; k += 32) dx[base + k] = softmax_grad(dy[base + k], y[base + k], s, log);
  }
}

// Whether v (at index k) replaces the best so far (at an earlier index): strictly greater keeps the
// first maximum; the first NaN wins and is never replaced.
__device__ __forceinline__ bool takes_over(float v, float best) {
  return v > best || (v != v && best == best);
}

__global__ void argmax_columns_kernel(const float* __restrict__ x, int32_t* __restrict__ idx, int64_t outer,
                                      int64_t n, int64_t inner) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < outer * inner;
       at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = at / inner;
    const float* xp = x + o * n * inner + (at - o * inner);
    float best = xp[0];
    int32_t where = 0;
    for (int64_t k = 1; k < n; ++k) {
      const float v = xp[k * inner];
      if (takes_over(v, best)) best = v, where = static_cast<int32_t>(k);
    }
    idx[at] = where;
  }
}

__global__ void argmax_rows_kernel(const float* __restrict__ x, int32_t* __restrict__ idx, int64_t rows,
                                   int64_t n) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = blockIdx.x * int64_t(kWarps) + (threadIdx.x >> 5); row < rows;
       row += int64_t(gridDim.x) * kWarps) {
    const float* xp = x + row * n;
    // Each lane's first maximum among its indices lane, lane + 32, ...; -1: the lane has none.
    float best = 0;
    int where = -1;
    for (int64_t k = lane; k < n; k += 32) {
      const float v = xp[k];
      if (where < 0 || takes_over(v, best)) best = v, where = static_cast<int>(k);
    }
    // Combine: the other lane's candidate wins if it takes over, or ties (both NaN or equal) at a
    // smaller index, so the result is the first maximum of the row.
    for (int offset = 16; offset > 0; offset >>= 1) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, offset);
      const int ow = __shfl_xor_sync(0xffffffffu, where, offset);
      if (ow < 0) continue;
      const bool tie = (ob == best) || (ob != ob && best != best);
      if (where < 0 || takes_over(ob, best) || (tie && ow < where)) best = ob, where = ow;
    }
    if (lane == 0) idx[row] = where;
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (outer == 0 || n == 0 || inner == 0) return;
  const char* op = log ? "logSoftmax" : "softmax";
  if (inner == 1) {
    ANN_LAUNCH(op, softmax_rows_kernel, dim3(row_grid(outer)), dim3(kThreads), 0, x, y, outer, n, log);
  } else {
    ANN_LAUNCH(op, softmax_columns_kernel, dim3(position_grid(outer * inner)), dim3(kThreads), 0, x, y, outer,
               n, inner, log);
  }
}

void softmax_backward(const float* dy, const float* y, float* dx, int64_t outer, int64_t n, int64_t inner,
                      bool log) {
  if (outer == 0 || n == 0 || inner == 0) return;
  const char* op = log ? "logSoftmaxBackward" : "softmaxBackward";
  if (inner == 1) {
    ANN_LAUNCH(op, softmax_backward_rows_kernel, dim3(row_grid(outer)), dim3(kThreads), 0, dy, y, dx, outer,
               n, log);
  } else {
    ANN_LAUNCH(op, softmax_backward_columns_kernel, dim3(position_grid(outer * inner)), dim3(kThreads), 0, dy,
               y, dx, outer, n, inner, log);
  }
}

void argmax(const float* x, int32_t* idx, int64_t outer, int64_t n, int64_t inner) {
  if (outer == 0 || n == 0 || inner == 0) return;
  if (inner == 1) {
    ANN_LAUNCH("argmax", argmax_rows_kernel, dim3(row_grid(outer)), dim3(kThreads), 0, x, idx, outer, n);
  } else {
    ANN_LAUNCH("argmax", argmax_columns_kernel, dim3(position_grid(outer * inner)), dim3(kThreads), 0, x, idx,
               outer, n, inner);
  }
}

}  // namespace ann::cuda
