// The fused attention's backward: float32 products, double only where a sum is long. Every
// product runs through sgemm on one (query tile, key block) pair, so each float sum is at most a
// tile's 256 rows, a block's 256 keys or the C/Cv channels, as in PyTorch's own float32 path;
// what runs over all N queries (dK, dV) or all S keys (dQ when S spans blocks) is added up in
// double across tiles and blocks and rounded once. The probabilities come from the forward (p) or
// are recomputed in float from the scores, each whole row normalised by its own double sum (lse
// is stored in float32, so exp(s - lse) rows would sum to 1 only within |lse| * 2^-24, one sign
// per row, a bias the value and bias gradients would add up). D = rowsum(P * dP) is a double sum.
#include <algorithm>
#include <cmath>
#include <limits>

#include "alloc.h"
#include "ann/attention.h"
#include "attention_grad_rows.h"
#include "attention_rows.h"
#include "gemm.h"
#include "parallel.h"

namespace ann {
namespace {

constexpr int64_t kTileQ = 256;                       // query rows per tile
constexpr int64_t kBlock = 256;                       // keys per block
constexpr int64_t kGroups = 16;                       // most task groups per batch item
constexpr double kPartialBudget = 128.0 * (1 << 20);  // bytes of dK/dV partials allowed beyond 3

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How many task groups share one batch item's query tiles; each holds its own double [S, C+Cv]
// dK/dV partial. It depends only on the sizes, never on the thread count, so the fixed-order sum
// of the partials is reproducible everywhere.
int64_t backward_groups(const AttentionDims& d) {
  const double partial = 8.0 * d.B * d.S * (d.C + d.Cv);
  const int64_t by_memory = std::max<int64_t>(3, static_cast<int64_t>(kPartialBudget / partial));
  return std::min({ceil_div(d.N, kTileQ), kGroups, by_memory});
}

// Per-thread scratch: one key block's P, dP/dS, a product's float result, the tile's dQ in double.
struct Scratch {
  Buffer<float> p, ds, prod, m, l, alpha;
  Buffer<double> dq, D;
  Scratch(const AttentionDims& d)
      : p(static_cast<size_t>(kTileQ * kBlock)),
        ds(static_cast<size_t>(kTileQ * kBlock)),
        prod(static_cast<size_t>(std::max(kBlock, kTileQ) * std::max(d.C, d.Cv))),
        m(static_cast<size_t>(kTileQ)),
        l(static_cast<size_t>(kTileQ)),
        alpha(static_cast<size_t>(kTileQ)),
        dq(static_cast<size_t>(kTileQ * d.C)),
        D(static_cast<size_t>(kTileQ)) {}
};

// Scores s = scale * q.k in place -> probabilities. Whole rows are normalised by their own max and
// double sum; rows of a block of a longer row are exp(s - lse). An infinite lse marks a row
// PyTorch's softmax makes all NaN (a +inf score, or only -inf).
void probabilities(float* s, int64_t rows, int64_t cols, bool whole, const float* lse, float* m, float* l,
                   float* alpha) {
  if (whole) {
    // exp(s - row max), then each row over its double sum.
    std::fill(m, m + rows, -std::numeric_limits<float>::infinity());
    std::fill(l, l + rows, 0.f);
    attn::softmax_block(s, rows, cols, cols, m, l, alpha);
    attn::normalise_rows(s, cols, rows, cols, s);
  } else {
    for (int64_t r = 0; r < rows; ++r) alpha[r] = -lse[r];
    attn::exp_shifted(s, rows, cols, cols, alpha);
  }
  for (int64_t r = 0; r < rows; ++r)
    if (std::isinf(lse[r])) std::fill(s + r * cols, s + (r + 1) * cols, kNaN);
}

// The forward's probabilities for the block, rows `ld` apart, copied; whole rows renormalised by
// their double sum as above.
void stored_probabilities(const float* p, int64_t ld, int64_t rows, int64_t cols, bool whole,
                          const float* lse, float* x) {
  if (whole) {
    attn::normalise_rows(p, ld, rows, cols, x);
  } else {
    for (int64_t r = 0; r < rows; ++r) std::copy(p + r * ld, p + r * ld + cols, x + r * cols);
  }
  for (int64_t r = 0; r < rows; ++r)
    if (std::isinf(lse[r])) std::fill(x + r * cols, x + (r + 1) * cols, kNaN);
}

}  // namespace

// Each task group owns a contiguous run of one batch item's query tiles and, per tile and key
// block, gets P and dS, accumulates the tile's dQ and adds into the group's dK/dV partial; the
// partials are then summed in group order and rounded once.
void attention_backward(const AttentionDims& d, float scale, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse, const float* p,
                        float* dq, float* dk, float* dv) {
  if (!dq && !dk && !dv) return;
  const int64_t S = d.S, C = d.C, Cv = d.Cv, block = std::min(S, kBlock);
  const int64_t tiles = ceil_div(d.N, kTileQ);
  const int64_t per = ceil_div(tiles, backward_groups(d));
  const int64_t G = ceil_div(tiles, per);
  const bool whole = block == S, want_ds = dq || dk;
  Buffer<double> pk(dk ? static_cast<size_t>(d.B * G * S * C) : 0);
  Buffer<double> pv(dv ? static_cast<size_t>(d.B * G * S * Cv) : 0);

  parallel_for(d.B * G, 1, [&](int64_t t0, int64_t t1) {
    Scratch w(d);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / G, g = t % G;
      double* gk = dk ? pk.data() + (b * G + g) * S * C : nullptr;
      double* gv = dv ? pv.data() + (b * G + g) * S * Cv : nullptr;
      for (int64_t tile = g * per; tile < std::min(tiles, (g + 1) * per); ++tile) {
        const int64_t i0 = tile * kTileQ, rows = std::min(kTileQ, d.N - i0);
        const bool first_tile = tile == g * per;  // the group's first tile overwrites its partials
        const int64_t at = b * d.N + i0;
        const float* qt = q + at * C;
        const float* dot = dout + at * Cv;
        if (want_ds && !whole) attn::row_dots(dot, out + at * Cv, rows, Cv, w.D.data());
        for (int64_t j0 = 0; j0 < S; j0 += block) {
          const int64_t cols = std::min(block, S - j0);
          const float* kb = k + (b * S + j0) * C;
          const float* vb = v + (b * S + j0) * Cv;
          float* P = w.p.data();
          if (p) {
            stored_probabilities(p + at * S + j0, S, rows, cols, whole, lse + at, P);
          } else {
            sgemm_serial(false, true, rows, cols, C, scale, qt, C, kb, C, 0.f, P, cols);
            probabilities(P, rows, cols, whole, lse + at, w.m.data(), w.l.data(), w.alpha.data());
          }
          if (dv) {
            sgemm_serial(true, false, cols, Cv, rows, 1.f, P, cols, dot, Cv, 0.f, w.prod.data(), Cv);
            attn::accumulate(w.prod.data(), cols, Cv, first_tile, gv + j0 * Cv, Cv);
          }
          if (!want_ds) continue;
          // dS = P * (dO V^T - D), before the scale.
          float* ds = w.ds.data();
          sgemm_serial(false, true, rows, cols, Cv, 1.f, dot, Cv, vb, Cv, 0.f, ds, cols);
          if (whole) attn::row_dots(P, ds, rows, cols, w.D.data());
          attn::softmax_grad(P, ds, rows, cols, w.D.data());
          if (dq && whole) {
            // One key block: the product is the whole sum, so it goes straight to dq.
            sgemm_serial(false, false, rows, C, cols, scale, ds, cols, kb, C, 0.f, dq + at * C, C);
          } else if (dq) {
            sgemm_serial(false, false, rows, C, cols, scale, ds, cols, kb, C, 0.f, w.prod.data(), C);
            attn::accumulate(w.prod.data(), rows, C, j0 == 0, w.dq.data(), C);
          }
          if (dk) {
            sgemm_serial(true, false, cols, C, rows, scale, ds, cols, qt, C, 0.f, w.prod.data(), C);
            attn::accumulate(w.prod.data(), cols, C, first_tile, gk + j0 * C, C);
          }
        }
        if (dq && !whole) attn::sum_partials(w.dq.data(), 1, 0, rows * C, dq + at * C);
      }
    }
  });

  auto reduce = [&](float* grad, const Buffer<double>& parts, int64_t width) {
    parallel_for(d.B * S, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / S, row = r % S;
        attn::sum_partials(parts.data() + (b * G * S + row) * width, G, S * width, width, grad + r * width);
      }
    });
  };
  if (dk) reduce(dk, pk, C);
  if (dv) reduce(dv, pv, Cv);
}

}  // namespace ann
