// Fused attention forward on the GPU, float32 as the CPU forward: one block per 32 query rows
// and 128 output columns. For S up to kChunk the block keeps the whole [32, S] score rows in
// shared memory, so the softmax is exact in one pass (max, exp, sum, normalise P) before P V;
// beyond it chunks of kChunk keys stream through with the online softmax (flash attention). No N x S array
// reaches global memory, except in attention_weights, which is defined to write it, and in p, the
// probabilities a caller may ask the forward to keep for the backward (then, beyond kChunk keys,
// the exact softmax is written to p and out = P V is one cuBLAS product).
#include <cmath>

#include "ann/attention.h"
#include "attention_tiles.cuh"
#include "blas.h"
#include "reduce.cuh"

namespace ann::cuda {
namespace {

using namespace attn;

// Keys whose scores a block holds at once (32 x 257 floats of shared memory): S up to this is one
// exact pass; beyond it, one online-softmax rescale per chunk (few, as the CPU's 512-key blocks,
// so that lse and out keep the CPU's accuracy, which the backward's parity depends on).
constexpr int64_t kChunk = 256;

__host__ __device__ inline int chunk_ld(int64_t S) {
  return static_cast<int>(ceil_div(S < kChunk ? S : kChunk, kT) * kT) + 1;
}

// The normaliser 1/l, or NaN where PyTorch's softmax gives a NaN row: a +inf max, or a row of
// only -inf (whose max is infinite too). A NaN score makes l NaN.
__device__ __forceinline__ float inverse_sum(float m, float l) { return is_inf(m) ? NAN : 1.f / l; }

__global__ void attention_forward_kernel(AttentionDims d, float scale, const float* q, const float* k,
                                         const float* v, float* out, float* lse, float* p_out) {
  __shared__ Tile<float> As, Bs;
  __shared__ float m_row[kT], l_row[kT], f_row[kT];
  ANN_DYNAMIC_SHARED(float, P);  // [32][ldp]: the score rows of one chunk of up to kChunk keys
  const int64_t tiles = ceil_div(d.N, kT);
  const int64_t b = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * kT;
  const int64_t c0 = int64_t(blockIdx.y) * kSliceWidth;
  const float* qb = q + b * d.N * d.C;
  const float* kb = k + b * d.S * d.C;
  const float* vb = v + b * d.S * d.Cv;
  const bool single = d.S <= kChunk;
  const int ldp = chunk_ld(d.S);
  const int lane = tx(), warp = ty();
  if (threadIdx.x < kT) {
    m_row[threadIdx.x] = -INFINITY;
    l_row[threadIdx.x] = 0.f;
  }
  float acc[kRows][kSlices] = {};
  for (int64_t j00 = 0; j00 < d.S; j00 += kChunk) {
    const int64_t cols = min(kChunk, d.S - j00);
    for (int64_t j0 = j00; j0 < j00 + cols; j0 += kT) {
      float s[kRows];
      product_nt(s, qb, i0, d.N, kb, j0, d.S, d.C, As, Bs);
#pragma unroll
      for (int i = 0; i < kRows; ++i) P[(warp + 8 * i) * ldp + (j0 - j00) + lane] = scale * s[i];
    }
    __syncthreads();
    // Softmax step over the chunk, warp w taking rows w + 8i: exact when the chunk holds every
    // key (P normalised before P V, as the CPU), else one online rescale per chunk.
    for (int i = 0; i < kRows; ++i) {
      const int r = warp + 8 * i;
      float* x = P + r * ldp;
      float mx = -INFINITY;
      for (int64_t c = lane; c < cols; c += kT) mx = max_ignoring_nan(mx, x[c]);
      const float m_old = m_row[r];
      const float m_new = max_ignoring_nan(m_old, warp_max_ignoring_nan(mx));
      float a = 1.f;
      if (m_new != m_old) a = m_old == -INFINITY ? 0.f : expf(m_old - m_new);
      const float shift = is_inf(m_new) ? 0.f : m_new;
      float part = 0.f;
      for (int64_t c = lane; c < cols; c += kT) {
        const float e = expf(x[c] - shift);
        x[c] = e;
        part += e;
      }
      const float l = l_row[r] * a + warp_sum(part);
      if (single) {
        const float inv = inverse_sum(m_new, l);
        for (int64_t c = lane; c < cols; c += kT) x[c] *= inv;
        if (p_out && blockIdx.y == 0 && i0 + r < d.N) {
          float* pr = p_out + (b * d.N + i0 + r) * d.S;
          for (int64_t c = lane; c < d.S; c += kT) pr[c] = x[c];
        }
      }
      for (int64_t c = cols + lane; c < ldp - 1; c += kT) x[c] = 0.f;  // keys past S add nothing
      if (lane == 0) {
        m_row[r] = m_new;
        l_row[r] = l;
        f_row[r] = a;
      }
    }
    __syncthreads();
    if (!single) {
#pragma unroll
      for (int i = 0; i < kRows; ++i) {
        const float a = f_row[warp + 8 * i];
#pragma unroll
        for (int j = 0; j < kSlices; ++j) acc[i][j] *= a;
      }
    }
    for (int64_t j0 = j00; j0 < j00 + cols; j0 += kT)
      product_pn(acc, P, ldp, static_cast<int>(j0 - j00), vb, j0, d.S, d.Cv, c0, As);
  }
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int r = warp + 8 * i;
    if (i0 + r >= d.N) continue;
    const float f = single ? 1.f : inverse_sum(m_row[r], l_row[r]);
    float* o = out + (b * d.N + i0 + r) * d.Cv;
#pragma unroll
    for (int j = 0; j < kSlices; ++j) {
      const int64_t c = c0 + j * kT + lane;
      if (c < d.Cv) o[c] = acc[i][j] * f;
    }
  }
  if (blockIdx.y == 0 && threadIdx.x < kT && i0 + threadIdx.x < d.N)
    lse[b * d.N + i0 + threadIdx.x] = m_row[threadIdx.x] + logf(l_row[threadIdx.x]);  // as torch.logsumexp
}

// attention_weights, first half: w = scale * q k^T, tile by tile.
__global__ void scores_kernel(AttentionDims d, float scale, const float* q, const float* k, float* w) {
  __shared__ Tile<float> As, Bs;
  const int64_t tiles = ceil_div(d.N, kT);
  const int64_t b = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * kT, j0 = int64_t(blockIdx.y) * kT;
  float s[kRows];
  product_nt(s, q + b * d.N * d.C, i0, d.N, k + b * d.S * d.C, j0, d.S, d.C, As, Bs);
  const int64_t j = j0 + tx();
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int64_t r = i0 + ty() + 8 * i;
    if (r < d.N && j < d.S) w[(b * d.N + r) * d.S + j] = scale * s[i];
  }
}

// Second half: each row's exact softmax in place, one warp per row, and its lse when asked.
__global__ void softmax_rows_kernel(float* w, float* lse, int64_t rows, int64_t S) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;  // whole warps leave together
  const int lane = threadIdx.x & 31;
  float* x = w + r * S;
  float mx = -INFINITY;
  for (int64_t c = lane; c < S; c += 32) mx = max_ignoring_nan(mx, x[c]);
  const float m = warp_max_ignoring_nan(mx);
  const float shift = is_inf(m) ? 0.f : m;
  float part = 0.f;
  for (int64_t c = lane; c < S; c += 32) part += expf(x[c] - shift);
  const float l = warp_sum(part), inv = inverse_sum(m, l);
  for (int64_t c = lane; c < S; c += 32) x[c] = expf(x[c] - shift) * inv;
  if (lse && lane == 0) lse[r] = m + logf(l);
}

}  // namespace

void attention_weights(const AttentionDims& d, float scale, const float* q, const float* k, float* w) {
  const char* op = "attention_weights";
  const dim3 grid(blocks_for(d.B * ceil_div(d.N, kT), 1), static_cast<unsigned>(ceil_div(d.S, kT)));
  ANN_LAUNCH(op, scores_kernel, grid, kThreads, 0, d, scale, q, k, w);
  ANN_LAUNCH(op, softmax_rows_kernel, blocks_for(d.B * d.N * 32, kThreads), kThreads, 0, w, nullptr,
             d.B * d.N, d.S);
}

void attention_forward(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                       float* out, float* lse, float* p) {
  if (p && d.S > kChunk) {
    // The kept probabilities are the rows that make out: the exact softmax in p, then out = P V.
    const char* op = "attention";
    const dim3 grid(blocks_for(d.B * ceil_div(d.N, kT), 1), static_cast<unsigned>(ceil_div(d.S, kT)));
    ANN_LAUNCH(op, scores_kernel, grid, kThreads, 0, d, scale, q, k, p);
    ANN_LAUNCH(op, softmax_rows_kernel, blocks_for(d.B * d.N * 32, kThreads), kThreads, 0, p, lse, d.B * d.N,
               d.S);
    sgemm_strided_batched(false, false, d.N, d.Cv, d.S, 1.f, p, d.S, d.N * d.S, v, d.Cv, d.S * d.Cv, 0.f, out,
                          d.Cv, d.N * d.Cv, d.B);
    return;
  }
  const int64_t ldp = chunk_ld(d.S);
  const dim3 grid(blocks_for(d.B * ceil_div(d.N, kT), 1), static_cast<unsigned>(ceil_div(d.Cv, kSliceWidth)));
  ANN_LAUNCH("attention", attention_forward_kernel, grid, kThreads,
             static_cast<size_t>(kT * ldp) * sizeof(float), d, scale, q, k, v, out, lse, p);
}

}  // namespace ann::cuda
