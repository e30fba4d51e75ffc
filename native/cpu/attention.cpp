// Fused attention on the CPU: query tiles run as parallel tasks, every product is a serial BLAS
// call on a tile, and the softmax works on a [tile rows, key block] scratch buffer, so no N x S
// array exists whatever N and S are (the backward adds a few O(S x C) partials).
#include "ann/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ann/alloc.h"
#include "ann/gemm.h"
#include "ann/parallel.h"
#include "attention_rows.h"

namespace ann {
namespace {

constexpr int64_t kTileQ = 512;     // query rows per tile (512 measured ~9% faster than 256 at S = 110)
constexpr int64_t kBlockFwd = 512;  // keys per online-softmax step in the forward
constexpr int64_t kBlockBwd = 256;  // keys per block in the backward (P and dS stay in L2)
constexpr int64_t kGroups = 16;     // most task groups per batch item in the backward
constexpr double kPartialBudget = 64.0 * (1 << 20);  // bytes of dK/dV partials allowed beyond 2x

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The normaliser 1/l, or NaN where PyTorch's softmax gives a NaN row: a +inf max (inf - inf) or
// a row of only -inf (the max is then infinite too).
float inverse_sum(float m, float l) {
  return std::isinf(m) ? std::numeric_limits<float>::quiet_NaN() : 1.f / l;
}

struct Tile {
  int64_t b, i0, rows;
};

Tile query_tile(const AttentionDims& d, int64_t index) {
  const int64_t tiles = ceil_div(d.N, kTileQ);
  const int64_t b = index / tiles, i0 = (index % tiles) * kTileQ;
  return {b, i0, std::min(kTileQ, d.N - i0)};
}

// Gradient pieces of one (query tile, key block) pair. On return P holds the probabilities and,
// when Dt is given, dS the score gradient before the scale: P * (dO V^T - D). When the block holds
// whole rows, D = rowsum(P * dO V^T) is computed here, as PyTorch's softmax backward does, so each
// row of dS sums to zero; otherwise Dt must hold the tile's rowsum(dO * O).
struct BlockGrads {
  const AttentionDims& d;
  float scale;
  const float *dout, *q, *k, *v, *out, *lse;

  void operator()(int64_t b, int64_t i0, int64_t rows, int64_t j0, int64_t cols, float* P, float* dS,
                  float* Dt) const {
    const float* Qt = q + (b * d.N + i0) * d.C;
    sgemm_serial(false, true, rows, cols, d.C, scale, Qt, d.C, k + (b * d.S + j0) * d.C, d.C, 0.f, P, cols);
    attn::probs_from_lse(P, rows, cols, cols, lse + b * d.N + i0);
    // lse is stored in float32, so exp(s - lse) rows sum to 1 only within |lse| * 2^-24, with
    // one sign per row; summed over many rows that bias shows in the value and bias gradients.
    // When the block holds the whole row, restoring the sum removes it.
    if (cols == d.S) attn::normalise_rows(P, rows, cols, cols);
    if (!Dt) return;
    const float* dOt = dout + (b * d.N + i0) * d.Cv;
    sgemm_serial(false, true, rows, cols, d.Cv, 1.f, dOt, d.Cv, v + (b * d.S + j0) * d.Cv, d.Cv, 0.f, dS,
                 cols);
    if (cols == d.S) attn::row_dots(P, dS, rows, cols, Dt);
    attn::score_grad(dS, P, rows, cols, cols, Dt);
  }

  void row_sums(int64_t b, int64_t i0, int64_t rows, float* Dt) const {
    const int64_t at = (b * d.N + i0) * d.Cv;
    attn::row_dots(dout + at, out + at, rows, d.Cv, Dt);
  }
};

// How many task groups share one batch item's query tiles in the backward. Each group beyond the
// first holds its own [S, C+Cv] dK/dV partial, so the count is bounded by memory (at least 3
// groups, i.e. at most twice dK+dV, or more within kPartialBudget); it depends only on the sizes,
// never on the thread count, so the fixed-order sum of the partials is reproducible everywhere.
int64_t backward_groups(const AttentionDims& d) {
  const double partial = 4.0 * d.B * d.S * (d.C + d.Cv);
  const int64_t by_memory = std::max<int64_t>(3, 1 + static_cast<int64_t>(kPartialBudget / partial));
  return std::min({ceil_div(d.N, kTileQ), kGroups, by_memory});
}

}  // namespace

void attention_forward(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                       float* out, float* lse) {
  const int64_t block = std::min(d.S, kBlockFwd);
  const bool single = block == d.S;
  parallel_for(d.B * ceil_div(d.N, kTileQ), 1, [&](int64_t t0, int64_t t1) {
    Buffer<float> sc(static_cast<size_t>(kTileQ * block)), m(kTileQ), l(kTileQ), alpha(kTileQ);
    for (int64_t t = t0; t < t1; ++t) {
      const Tile tl = query_tile(d, t);
      const float* Qt = q + (tl.b * d.N + tl.i0) * d.C;
      float* Ot = out + (tl.b * d.N + tl.i0) * d.Cv;
      std::fill(m.data(), m.data() + tl.rows, -std::numeric_limits<float>::infinity());
      std::fill(l.data(), l.data() + tl.rows, 0.f);
      for (int64_t j0 = 0; j0 < d.S; j0 += block) {
        const int64_t cols = std::min(block, d.S - j0);
        sgemm_serial(false, true, tl.rows, cols, d.C, scale, Qt, d.C, k + (tl.b * d.S + j0) * d.C, d.C, 0.f,
                     sc.data(), cols);
        attn::softmax_block(sc.data(), tl.rows, cols, cols, m.data(), l.data(), alpha.data());
        if (single) {
          // All keys seen: normalise the small P tile rather than the output rows afterwards.
          for (int64_t r = 0; r < tl.rows; ++r) alpha[r] = inverse_sum(m[r], l[r]);
          attn::scale_rows(sc.data(), tl.rows, cols, cols, alpha.data());
        } else if (j0 > 0) {
          attn::scale_rows(Ot, tl.rows, d.Cv, d.Cv, alpha.data());
        }
        sgemm_serial(false, false, tl.rows, d.Cv, cols, 1.f, sc.data(), cols, v + (tl.b * d.S + j0) * d.Cv,
                     d.Cv, j0 == 0 ? 0.f : 1.f, Ot, d.Cv);
      }
      float* lse_t = lse + tl.b * d.N + tl.i0;
      for (int64_t r = 0; r < tl.rows; ++r) {
        lse_t[r] = m[r] + std::log(l[r]);  // as torch.logsumexp, also for infinite m
        alpha[r] = inverse_sum(m[r], l[r]);
      }
      if (!single) attn::scale_rows(Ot, tl.rows, d.Cv, d.Cv, alpha.data());
    }
  });
}

// Each task group owns a contiguous run of one batch item's query tiles and, per tile and key
// block, recomputes P and dS, writes the tile's dQ and adds into the group's dK/dV partial
// (group 0's is the output itself); the partials are then summed in group order.
void attention_backward(const AttentionDims& d, float scale, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse, float* dq,
                        float* dk, float* dv) {
  if (!dq && !dk && !dv) return;
  const BlockGrads grads{d, scale, dout, q, k, v, out, lse};
  const int64_t tiles = ceil_div(d.N, kTileQ);
  const int64_t per = ceil_div(tiles, backward_groups(d));
  const int64_t G = ceil_div(tiles, per);
  const int64_t S = d.S, block = std::min(S, kBlockBwd);
  Buffer<float> pk(dk ? static_cast<size_t>(d.B * (G - 1) * S * d.C) : 0);
  Buffer<float> pv(dv ? static_cast<size_t>(d.B * (G - 1) * S * d.Cv) : 0);
  auto partial = [&](float* grad, const Buffer<float>& extra, int64_t b, int64_t g, int64_t width) {
    return g == 0 ? grad + b * S * width : extra.data() + (b * (G - 1) + g - 1) * S * width;
  };
  const bool want_ds = dq || dk;
  parallel_for(d.B * G, 1, [&](int64_t t0, int64_t t1) {
    const size_t tile_elems = static_cast<size_t>(kTileQ * block);
    Buffer<float> P(tile_elems), dS(want_ds ? tile_elems : 0), D(kTileQ);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / G, g = t % G;
      for (int64_t tile = g * per; tile < std::min(tiles, (g + 1) * per); ++tile) {
        const int64_t i0 = tile * kTileQ, rows = std::min(kTileQ, d.N - i0);
        const bool first_tile = tile == g * per;
        const float* Qt = q + (b * d.N + i0) * d.C;
        const float* dOt = dout + (b * d.N + i0) * d.Cv;
        if (want_ds && block < S) grads.row_sums(b, i0, rows, D.data());
        for (int64_t j0 = 0; j0 < S; j0 += block) {
          const int64_t cols = std::min(block, S - j0);
          grads(b, i0, rows, j0, cols, P.data(), dS.data(), want_ds ? D.data() : nullptr);
          const float beta = first_tile ? 0.f : 1.f;
          if (dv)
            sgemm_serial(true, false, cols, d.Cv, rows, 1.f, P.data(), cols, dOt, d.Cv, beta,
                         partial(dv, pv, b, g, d.Cv) + j0 * d.Cv, d.Cv);
          if (dq)
            sgemm_serial(false, false, rows, d.C, cols, scale, dS.data(), cols, k + (b * S + j0) * d.C, d.C,
                         j0 == 0 ? 0.f : 1.f, dq + (b * d.N + i0) * d.C, d.C);
          if (dk)
            sgemm_serial(true, false, cols, d.C, rows, scale, dS.data(), cols, Qt, d.C, beta,
                         partial(dk, pk, b, g, d.C) + j0 * d.C, d.C);
        }
      }
    }
  });
  if (G == 1) return;
  auto reduce = [&](float* grad, const Buffer<float>& extra, int64_t width) {
    parallel_for(d.B * S, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t g = 1; g < G; ++g)
          attn::accumulate(grad + r * width, partial(grad, extra, r / S, g, width) + (r % S) * width, width);
    });
  };
  if (dk) reduce(dk, pk, d.C);
  if (dv) reduce(dv, pv, d.Cv);
}

void attention_weights(const AttentionDims& d, float scale, const float* q, const float* k, float* w) {
  parallel_for(d.B * ceil_div(d.N, kTileQ), 1, [&](int64_t t0, int64_t t1) {
    Buffer<float> m(kTileQ), l(kTileQ), alpha(kTileQ);
    for (int64_t t = t0; t < t1; ++t) {
      const Tile tl = query_tile(d, t);
      float* Wt = w + (tl.b * d.N + tl.i0) * d.S;
      std::fill(m.data(), m.data() + tl.rows, -std::numeric_limits<float>::infinity());
      std::fill(l.data(), l.data() + tl.rows, 0.f);
      sgemm_serial(false, true, tl.rows, d.S, d.C, scale, q + (tl.b * d.N + tl.i0) * d.C, d.C,
                   k + tl.b * d.S * d.C, d.C, 0.f, Wt, d.S);
      attn::softmax_block(Wt, tl.rows, d.S, d.S, m.data(), l.data(), alpha.data());
      for (int64_t r = 0; r < tl.rows; ++r) alpha[r] = inverse_sum(m[r], l[r]);
      attn::scale_rows(Wt, tl.rows, d.S, d.S, alpha.data());
    }
  });
}

}  // namespace ann
