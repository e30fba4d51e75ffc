// Fused attention backward on the GPU, in double as the CPU backward (native/cpu/
// attention_backward.cpp says why: float32 scores put an error of |s| 2^-24 into every
// probability, and dQ, dK, dV are sums of S or N such terms). Flash-style: the probabilities are
// recomputed tile by tile, never stored.
//   1. rows: per query row the shift m, the normaliser inv and D = rowsum(P * dO V^T), from the
//      scores in double: each row is renormalised by its own max and sum (the float32 lse would
//      leave each row summing to 1 only within |lse| 2^-24), as the CPU does up to 256 keys.
//   2. dQ: one block per 32 queries and 128 columns of C, over all key tiles.
//   3. dK, dV: one block per 32 keys, 128 columns of C or Cv, and a group of query tiles; with
//      more than one group per key tile each writes a double partial, summed in group order, so
//      the result depends only on the sizes (no atomics).
// P = exp(s - m) * inv; a row whose lse is infinite (PyTorch's softmax made it NaN) gets m = NaN.
// When the forward kept the probabilities p, P = p * inv instead (inv renormalising whole rows in
// double, NaN for those rows), and q k^T is not recomputed.
#include <algorithm>
#include <cmath>
#include <optional>

#include "ann/attention.h"
#include "attention_tiles.cuh"
#include "reduce.cuh"

namespace ann::cuda {
namespace {

using namespace attn;

constexpr int64_t kWhole = 256;        // kept rows renormalised in double up to this many keys (the CPU's)
constexpr int64_t kWantBlocks = 1056;  // dK/dV blocks to aim for: 8 per SM of a 132-SM GPU
constexpr double kPartialBudget = 256.0 * (1 << 20);  // bytes of dK/dV partials at most

struct RowStats {
  double* m;
  double* inv;
  double* D;
};

// Row statistics from the scores, one block per 32 queries over all key tiles, online in double:
// m the row's max, inv = 1 / sum exp(s - m), D = sum P dP with dP = dO V^T. Every S gets the
// whole-row renormalisation the CPU applies up to 256 keys; beyond it the CPU reads the forward's
// float lse and out, whose rounding (|lse| 2^-24 in every probability) the parity margin of dQ
// does not always absorb (b1_n130_s700), so here they are recomputed.
__global__ void score_stats_kernel(AttentionDims d, double scale, const float* q, const float* k,
                                   const float* v, const float* dout, const float* lse, RowStats st) {
  __shared__ Tile<double> As, Bs;
  const int64_t tiles = ceil_div(d.N, kT);
  const int64_t b = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * kT;
  const float* qb = q + b * d.N * d.C;
  const float* kb = k + b * d.S * d.C;
  const float* vb = v + b * d.S * d.Cv;
  const float* gb = dout + b * d.N * d.Cv;
  double m[kRows], l[kRows], t[kRows];  // per row ty + 8i, the same in every lane
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    m[i] = -INFINITY;
    l[i] = t[i] = 0.0;
  }
  for (int64_t j0 = 0; j0 < d.S; j0 += kT) {
    double sc[kRows], dp[kRows];
    product_nt(sc, qb, i0, d.N, kb, j0, d.S, d.C, As, Bs);
    product_nt(dp, gb, i0, d.N, vb, j0, d.S, d.Cv, As, Bs);
    const bool key = j0 + tx() < d.S;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const double x = key ? scale * sc[i] : -INFINITY;
      const double m_new = max_ignoring_nan(m[i], warp_max_ignoring_nan(x));
      const double a = m_new == m[i] ? 1.0 : exp(m[i] - m_new);
      const double e = key && m_new != -INFINITY ? exp(x - m_new) : 0.0;
      l[i] = l[i] * a + warp_sum(e);
      t[i] = t[i] * a + warp_sum(e * dp[i]);
      m[i] = m_new;
    }
  }
  if (tx() != 0) return;
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int64_t r = i0 + ty() + 8 * i;
    if (r >= d.N) continue;
    const int64_t row = b * d.N + r;
    st.m[row] = is_inf(lse[row]) ? double(NAN) : m[i];
    st.inv[row] = 1.0 / l[i];
    st.D[row] = t[i] / l[i];
  }
}

// Row statistics from the kept probabilities, one warp per query row: whole rows (S <= kWhole)
// renormalised in double with D = dO . (P V), longer rows as kept with D = rowsum(dO * O), as the
// CPU; inv is NaN for the rows PyTorch's softmax made NaN.
__global__ void kept_stats_kernel(AttentionDims d, const float* v, const float* dout, const float* out,
                                  const float* lse, const float* p, RowStats st) {
  __shared__ double scores[kThreads / 32][kWhole];
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31, warp = (threadIdx.x >> 5);
  if (row >= d.B * d.N) return;  // whole warps leave together
  const int64_t b = row / d.N;
  const float* g = dout + row * d.Cv;
  const bool bad = is_inf(lse[row]);
  double inv = 1.0, dot = 0.0;
  if (d.S > kWhole) {
    const float* o = out + row * d.Cv;
    for (int64_t c = lane; c < d.Cv; c += 32) dot += double(g[c]) * double(o[c]);
  } else {
    double* s = scores[warp];
    const float* vb = v + b * d.S * d.Cv;
    double part = 0.0;
    for (int64_t j = lane; j < d.S; j += 32) part += s[j] = p[row * d.S + j];
    inv = 1.0 / warp_sum(part);
    __syncwarp();
    for (int64_t c = lane; c < d.Cv; c += 32) {
      double o = 0.0;
      for (int64_t j = 0; j < d.S; ++j) o += s[j] * double(vb[j * d.Cv + c]);
      dot += double(g[c]) * o;
    }
    dot *= inv;
  }
  dot = warp_sum(dot);
  if (lane == 0) {
    st.m[row] = 0.0;
    st.inv[row] = bad ? double(NAN) : inv;
    st.D[row] = dot;
  }
}

// The kept probabilities' 32 x 32 tile at queries i0.., keys j0.. in the layout of product_nt's
// result: acc[i] for query ty + 8i, key tx, or transposed (key ty + 8i, query tx).
__device__ __forceinline__ void kept_tile(double (&acc)[kRows], const float* p, int64_t i0, int64_t N,
                                          int64_t j0, int64_t S, bool transposed, Tile<double>& As) {
  load_tile(As, p, S, i0, N, j0, S);  // [query][key]
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kRows; ++i) acc[i] = transposed ? As[tx()][ty() + 8 * i] : As[ty() + 8 * i][tx()];
  __syncthreads();
}

// P from a score (exp(scale s - m) inv) or from a kept probability (p inv).
__device__ __forceinline__ double probability(bool kept, double scale, double s, double m, double inv) {
  return kept ? s * inv : exp(scale * s - m) * inv;
}

// One block per (batch item, 32 queries) and 128 columns of dQ.
__global__ void dq_kernel(AttentionDims d, double scale, const float* q, const float* k, const float* v,
                          const float* dout, const float* p, RowStats st, float* dq) {
  __shared__ Tile<double> As, Bs;
  __shared__ double dS[kT * kT];
  __shared__ double m_row[kT], inv_row[kT], D_row[kT];
  const int64_t tiles = ceil_div(d.N, kT);
  const int64_t b = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * kT;
  const int64_t c0 = int64_t(blockIdx.y) * kSliceWidth;
  const float* qb = q + b * d.N * d.C;
  const float* kb = k + b * d.S * d.C;
  const float* vb = v + b * d.S * d.Cv;
  const float* gb = dout + b * d.N * d.Cv;
  if (threadIdx.x < kT) {
    const int64_t r = min(i0 + int64_t(threadIdx.x), d.N - 1) + b * d.N;
    m_row[threadIdx.x] = st.m[r];
    inv_row[threadIdx.x] = st.inv[r];
    D_row[threadIdx.x] = st.D[r];
  }
  double acc[kRows][kSlices] = {};
  for (int64_t j0 = 0; j0 < d.S; j0 += kT) {
    double s[kRows], dp[kRows];
    if (p)
      kept_tile(s, p + b * d.N * d.S, i0, d.N, j0, d.S, false, As);
    else
      product_nt(s, qb, i0, d.N, kb, j0, d.S, d.C, As, Bs);
    product_nt(dp, gb, i0, d.N, vb, j0, d.S, d.Cv, As, Bs);
    const bool key = j0 + tx() < d.S;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const int r = ty() + 8 * i;
      const bool ok = key && i0 + r < d.N;
      const double pr = !ok ? 0.0 : probability(p != nullptr, scale, s[i], m_row[r], inv_row[r]);
      dS[r * kT + tx()] = ok ? pr * (dp[i] - D_row[r]) : 0.0;
    }
    __syncthreads();
    product_pn(acc, dS, kT, 0, kb, j0, d.S, d.C, c0, As);
  }
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int64_t r = i0 + ty() + 8 * i;
    if (r >= d.N) continue;
#pragma unroll
    for (int j = 0; j < kSlices; ++j) {
      const int64_t c = c0 + j * kT + tx();
      if (c < d.C) dq[(b * d.N + r) * d.C + c] = static_cast<float>(scale * acc[i][j]);
    }
  }
}

struct KeyGrads {
  float* dk;            // null when not wanted
  float* dv;            // null when not wanted
  double* part_k;       // [G, B, S, C] partials, or null when G == 1
  double* part_v;       // [G, B, S, Cv]
  int64_t groups, per;  // query-tile groups per key tile, query tiles per group
  int64_t k_slices;     // column slices of dK; blockIdx.y beyond them are slices of dV
};

// One block per (batch item, 32 keys, query group) and one 128-column slice of dK or dV.
__global__ void dkv_kernel(AttentionDims d, double scale, const float* q, const float* k, const float* v,
                           const float* dout, const float* p, RowStats st, KeyGrads kg) {
  __shared__ Tile<double> As, Bs;
  __shared__ double PT[kT * kT];  // [key][query]: P^T, or dS^T for dK
  __shared__ double m_row[kT], inv_row[kT], D_row[kT];
  const int64_t ktiles = ceil_div(d.S, kT), qtiles = ceil_div(d.N, kT);
  const int64_t g = blockIdx.x % kg.groups, kt = (blockIdx.x / kg.groups) % ktiles;
  const int64_t b = blockIdx.x / (kg.groups * ktiles), j0 = kt * kT;
  const bool is_k = blockIdx.y < kg.k_slices;
  const int64_t width = is_k ? d.C : d.Cv;
  const int64_t c0 = (is_k ? int64_t(blockIdx.y) : int64_t(blockIdx.y) - kg.k_slices) * kSliceWidth;
  const float* qb = q + b * d.N * d.C;
  const float* kb = k + b * d.S * d.C;
  const float* vb = v + b * d.S * d.Cv;
  const float* gb = dout + b * d.N * d.Cv;
  double acc[kRows][kSlices] = {};
  const int64_t t1 = min(qtiles, (g + 1) * kg.per);
  for (int64_t t = g * kg.per; t < t1; ++t) {
    const int64_t i0 = t * kT;
    __syncthreads();  // the previous tile's row stats are no longer read
    if (threadIdx.x < kT) {
      const int64_t r = min(i0 + int64_t(threadIdx.x), d.N - 1) + b * d.N;
      m_row[threadIdx.x] = st.m[r];
      inv_row[threadIdx.x] = st.inv[r];
      D_row[threadIdx.x] = st.D[r];
    }
    double s[kRows], dp[kRows];
    if (p)
      kept_tile(s, p + b * d.N * d.S, i0, d.N, j0, d.S, true, As);
    else
      product_nt(s, kb, j0, d.S, qb, i0, d.N, d.C, As, Bs);  // [key][query]
    if (is_k) product_nt(dp, vb, j0, d.S, gb, i0, d.N, d.Cv, As, Bs);
    const int qc = tx();
    const bool query = i0 + qc < d.N;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const int r = ty() + 8 * i;
      const bool ok = query && j0 + r < d.S;
      const double pr = !ok ? 0.0 : probability(p != nullptr, scale, s[i], m_row[qc], inv_row[qc]);
      PT[r * kT + qc] = !ok ? 0.0 : is_k ? pr * (dp[i] - D_row[qc]) : pr;
    }
    __syncthreads();
    product_pn(acc, PT, kT, 0, is_k ? qb : gb, i0, d.N, width, c0, As);
  }
  const double f = is_k ? scale : 1.0;
  float* grad = is_k ? kg.dk : kg.dv;
  double* part = is_k ? kg.part_k : kg.part_v;
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int64_t r = j0 + ty() + 8 * i;
    if (r >= d.S) continue;
#pragma unroll
    for (int j = 0; j < kSlices; ++j) {
      const int64_t c = c0 + j * kT + tx();
      if (c >= width) continue;
      if (part)
        part[((g * d.B + b) * d.S + r) * width + c] = f * acc[i][j];
      else
        grad[(b * d.S + r) * width + c] = static_cast<float>(f * acc[i][j]);
    }
  }
}

// grad[i] = sum over groups, in group order, of part[g, i].
__global__ void sum_partials_kernel(const double* part, float* grad, int64_t n, int64_t groups) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double acc = 0.0;
  for (int64_t g = 0; g < groups; ++g) acc += part[g * n + i];
  grad[i] = static_cast<float>(acc);
}

}  // namespace

void attention_backward(const AttentionDims& d, float scale, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse, const float* p,
                        float* dq, float* dk, float* dv) {
  if (!dq && !dk && !dv) return;
  const char* op = "attention_backward";
  const int64_t rows = d.B * d.N;
  Buffer<double> stats(static_cast<size_t>(3 * rows));
  const RowStats st{stats.data(), stats.data() + rows, stats.data() + 2 * rows};
  if (p)
    ANN_LAUNCH(op, kept_stats_kernel, blocks_for(rows * 32, kThreads), kThreads, 0, d, v, dout, out, lse, p,
               st);
  else
    ANN_LAUNCH(op, score_stats_kernel, blocks_for(d.B * ceil_div(d.N, kT), 1), kThreads, 0, d, double(scale),
               q, k, v, dout, lse, st);
  if (dq) {
    const dim3 grid(blocks_for(d.B * ceil_div(d.N, kT), 1),
                    static_cast<unsigned>(ceil_div(d.C, kSliceWidth)));
    ANN_LAUNCH(op, dq_kernel, grid, kThreads, 0, d, double(scale), q, k, v, dout, p, st, dq);
  }
  if (!dk && !dv) return;
  KeyGrads kg{dk, dv, nullptr, nullptr, 1, 0, dk ? ceil_div(d.C, kSliceWidth) : 0};
  const int64_t slices = kg.k_slices + (dv ? ceil_div(d.Cv, kSliceWidth) : 0);
  const int64_t qtiles = ceil_div(d.N, kT), ktiles = ceil_div(d.S, kT);
  // Groups from the sizes alone (never the device), so every GPU sums in the same order.
  const double part_bytes = 8.0 * d.B * d.S * ((dk ? d.C : 0) + (dv ? d.Cv : 0));
  int64_t groups = ceil_div(kWantBlocks, d.B * ktiles * slices);
  groups =
      std::max<int64_t>(1, std::min({groups, qtiles, static_cast<int64_t>(kPartialBudget / part_bytes)}));
  kg.per = ceil_div(qtiles, groups);
  kg.groups = ceil_div(qtiles, kg.per);
  std::optional<Buffer<double>> part_k, part_v;
  if (dk && kg.groups > 1)
    kg.part_k = part_k.emplace(static_cast<size_t>(kg.groups * d.B * d.S * d.C)).data();
  if (dv && kg.groups > 1)
    kg.part_v = part_v.emplace(static_cast<size_t>(kg.groups * d.B * d.S * d.Cv)).data();
  const dim3 grid(blocks_for(d.B * ktiles * kg.groups, 1), static_cast<unsigned>(slices));
  ANN_LAUNCH(op, dkv_kernel, grid, kThreads, 0, d, double(scale), q, k, v, dout, p, st, kg);
  if (kg.groups == 1) return;
  if (dk) {
    const int64_t n = d.B * d.S * d.C;
    ANN_LAUNCH(op, sum_partials_kernel, blocks_for(n, kThreads), kThreads, 0, kg.part_k, dk, n, kg.groups);
  }
  if (dv) {
    const int64_t n = d.B * d.S * d.Cv;
    ANN_LAUNCH(op, sum_partials_kernel, blocks_for(n, kThreads), kThreads, 0, kg.part_v, dv, n, kg.groups);
  }
}

}  // namespace ann::cuda
