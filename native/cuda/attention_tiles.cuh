// The tile machinery both attention kernels (attention.cu in float, attention_backward.cu in
// double) are made of: 256 threads = 8 warps over a 32 x 32 tile, thread (ty = warp, tx = lane)
// owning rows ty, ty + 8, ty + 16, ty + 24 of column tx; shared tiles [32][33] so that a warp
// reading a column or a row hits distinct banks. Products run over 32-wide chunks of the inner
// dimension in ascending order, so every sum's order depends only on the sizes.
#pragma once
#include "runtime.h"

namespace ann::cuda::attn {

constexpr int kT = 32;         // tile edge: query rows, keys, channels per chunk
constexpr int kThreads = 256;  // 8 warps
constexpr int kRows = 4;       // rows per thread: kT / 8
constexpr int kSlices = 4;     // 32-wide output column groups per block: 128 output columns
constexpr int kSliceWidth = kT * kSlices;

template <typename T>
using Tile = T[kT][kT + 1];

__device__ __forceinline__ int tx() { return threadIdx.x & 31; }
__device__ __forceinline__ int ty() { return threadIdx.x >> 5; }

// tile[r][c] = a[(r0 + r) * ld + c0 + c] as T, zero outside rows < rows and cols < cols.
template <typename T>
__device__ __forceinline__ void load_tile(Tile<T>& tile, const float* a, int64_t ld, int64_t r0, int64_t rows,
                                          int64_t c0, int64_t cols) {
  const int c = tx();
  const bool col_ok = c0 + c < cols;
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int r = ty() + 8 * i;
    tile[r][c] = (col_ok && r0 + r < rows) ? static_cast<T>(a[(r0 + r) * ld + c0 + c]) : T(0);
  }
}

// acc[i] = sum over k < depth of A[a0 + ty + 8i, k] * B[b0 + tx, k], A and B row-major with
// `depth` columns: the 32 x 32 block of A B^T (a score tile), chunked over k through two shared tiles.
// Rows outside [0, a_rows) or [0, b_rows) read as zeros. Contains barriers.
template <typename T>
__device__ __forceinline__ void product_nt(T (&acc)[kRows], const float* A, int64_t a0, int64_t a_rows,
                                           const float* B, int64_t b0, int64_t b_rows, int64_t depth,
                                           Tile<T>& As, Tile<T>& Bs) {
#pragma unroll
  for (int i = 0; i < kRows; ++i) acc[i] = T(0);
  for (int64_t k0 = 0; k0 < depth; k0 += kT) {
    load_tile(As, A, depth, a0, a_rows, k0, depth);
    load_tile(Bs, B, depth, b0, b_rows, k0, depth);
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kT; ++k) {
      const T b = Bs[tx()][k];
#pragma unroll
      for (int i = 0; i < kRows; ++i) acc[i] += As[ty() + 8 * i][k] * b;
    }
    __syncthreads();
  }
}

// acc[i][j] += sum over k < 32 of P[ty + 8i][p0 + k] * X[x0 + k, c0 + 32j + tx] for the block's
// 128 output columns starting at c0: X row-major [x_rows, width], rows beyond x_rows and columns
// beyond width read as zeros. P is a shared [32][ldp] array. Contains barriers.
template <typename T>
__device__ __forceinline__ void product_pn(T (&acc)[kRows][kSlices], const T* P, int ldp, int p0,
                                           const float* X, int64_t x0, int64_t x_rows, int64_t width,
                                           int64_t c0, Tile<T>& Xs) {
  for (int j = 0; j < kSlices; ++j) {
    if (c0 + j * kT >= width) break;  // uniform over the block
    load_tile(Xs, X, width, x0, x_rows, c0 + j * kT, width);
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kT; ++k) {
      const T x = Xs[k][tx()];
#pragma unroll
      for (int i = 0; i < kRows; ++i) acc[i][j] += P[(ty() + 8 * i) * ldp + p0 + k] * x;
    }
    __syncthreads();
  }
}

// NaN-ignoring maximum (b > a keeps a when b is NaN), as the CPU softmax's row max.
template <typename T>
__device__ __forceinline__ T max_ignoring_nan(T a, T b) {
  return b > a ? b : a;
}

template <typename T>
__device__ __forceinline__ T warp_max_ignoring_nan(T v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = max_ignoring_nan(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

__device__ __forceinline__ bool is_inf(float x) { return fabsf(x) == INFINITY; }
__device__ __forceinline__ bool is_inf(double x) { return fabs(x) == INFINITY; }

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace ann::cuda::attn
