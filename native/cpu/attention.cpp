// Fused attention on the CPU: query tiles run as parallel tasks, every product is a serial BLAS
// call on a tile, and the softmax works on a [tile rows, key block] scratch buffer, so no N x S
// array exists whatever N and S are, unless the caller asks for the probabilities p: then the
// score tiles are computed in p itself, in one block of all S keys. The backward is in
// attention_backward.cpp.
#include "ann/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "alloc.h"
#include "attention_rows.h"
#include "gemm.h"
#include "parallel.h"

namespace ann {
namespace {

constexpr int64_t kTileQ = 512;     // query rows per tile (512 measured ~9% faster than 256 at S = 110)
constexpr int64_t kBlockFwd = 512;  // keys per online-softmax step in the forward

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

}  // namespace

void attention_forward(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                       float* out, float* lse, float* p) {
  const int64_t block = p ? d.S : std::min(d.S, kBlockFwd);
  const bool single = block == d.S;
  parallel_for(d.B * ceil_div(d.N, kTileQ), 1, [&](int64_t t0, int64_t t1) {
    Buffer<float> scratch(p ? 0 : static_cast<size_t>(kTileQ * block)), m(kTileQ), l(kTileQ), alpha(kTileQ);
    for (int64_t t = t0; t < t1; ++t) {
      const Tile tl = query_tile(d, t);
      const float* Qt = q + (tl.b * d.N + tl.i0) * d.C;
      float* Ot = out + (tl.b * d.N + tl.i0) * d.Cv;
      float* sc = p ? p + (tl.b * d.N + tl.i0) * d.S : scratch.data();
      std::fill(m.data(), m.data() + tl.rows, -std::numeric_limits<float>::infinity());
      std::fill(l.data(), l.data() + tl.rows, 0.f);
      for (int64_t j0 = 0; j0 < d.S; j0 += block) {
        const int64_t cols = std::min(block, d.S - j0);
        sgemm_serial(false, true, tl.rows, cols, d.C, scale, Qt, d.C, k + (tl.b * d.S + j0) * d.C, d.C, 0.f,
                     sc, cols);
        attn::softmax_block(sc, tl.rows, cols, cols, m.data(), l.data(), alpha.data());
        if (single) {
          // All keys seen: normalise the small P tile rather than the output rows afterwards.
          for (int64_t r = 0; r < tl.rows; ++r) alpha[r] = inverse_sum(m[r], l[r]);
          attn::scale_rows(sc, tl.rows, cols, cols, alpha.data());
        } else if (j0 > 0) {
          attn::scale_rows(Ot, tl.rows, d.Cv, d.Cv, alpha.data());
        }
        sgemm_serial(false, false, tl.rows, d.Cv, cols, 1.f, sc, cols, v + (tl.b * d.S + j0) * d.Cv, d.Cv,
                     j0 == 0 ? 0.f : 1.f, Ot, d.Cv);
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
