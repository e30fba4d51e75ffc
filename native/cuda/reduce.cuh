// Warp and block sums for kernels that reduce (batch-norm statistics, bias gradients, loss sums).
// Deterministic: the order of the additions depends only on blockDim, never on scheduling. Long
// sums accumulate in double, as the CPU kernels do, so both backends keep the same parity margin.
#pragma once
#include "runtime.h"

namespace ann::cuda {

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of v over the block; every thread gets it. `scratch` holds blockDim.x / 32 values in shared
// memory; blockDim.x is a multiple of 32 and at most 1024. Contains barriers: call from all threads.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = lane < warps ? scratch[lane] : T(0);
  return warp_sum(total);
}

}  // namespace ann::cuda
