// The fused attention's backward, in double. Float32 scores carry an absolute error of about
// |s| * 2^-24 into every probability (exp turns it relative), and dQ, dK and dV are sums of
// S or N such terms: a float32 pipeline lands beside PyTorch's own float32 error, and which side
// depends on the BLAS kernel's summation order. So each (query tile, key block) pair converts its
// inputs to double, recomputes the scores, P and dS in double, and dQ, dK, dV accumulate in double;
// only the results are rounded to float. dgemm costs about twice sgemm (bench/RESULTS.md).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ann/alloc.h"
#include "ann/attention.h"
#include "ann/gemm.h"
#include "ann/parallel.h"

namespace ann {
namespace {

constexpr int64_t kTileQ = 256;  // query rows per tile
constexpr int64_t kBlock = 256;  // keys per block (P and dS, 2 x 512 KiB of doubles, stay in L2)
constexpr int64_t kGroups = 16;  // most task groups per batch item
constexpr double kPartialBudget = 128.0 * (1 << 20);  // bytes of dK/dV partials allowed beyond 3

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void widen(const float* src, int64_t n, double* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// How many task groups share one batch item's query tiles; each holds its own double [S, C+Cv]
// dK/dV partial. It depends only on the sizes, never on the thread count, so the fixed-order sum
// of the partials is reproducible everywhere.
int64_t backward_groups(const AttentionDims& d) {
  const double partial = 8.0 * d.B * d.S * (d.C + d.Cv);
  const int64_t by_memory = std::max<int64_t>(3, static_cast<int64_t>(kPartialBudget / partial));
  return std::min({ceil_div(d.N, kTileQ), kGroups, by_memory});
}

// Per-thread scratch: the tile's inputs and dQ, one key block's inputs, P and dS.
struct Scratch {
  Buffer<double> q, dout, dq, k, v, p, ds, D;
  Scratch(const AttentionDims& d)
      : q(static_cast<size_t>(kTileQ * d.C)),
        dout(static_cast<size_t>(kTileQ * d.Cv)),
        dq(static_cast<size_t>(kTileQ * d.C)),
        k(static_cast<size_t>(kBlock * d.C)),
        v(static_cast<size_t>(kBlock * d.Cv)),
        p(static_cast<size_t>(kTileQ * kBlock)),
        ds(static_cast<size_t>(kTileQ * kBlock)),
        D(static_cast<size_t>(kTileQ)) {}
};

// P = exp(s - lse) in place. When the block holds whole rows the row is normalised by its own
// max and sum instead (lse is stored in float32, so exp(s - lse) rows would sum to 1 only within
// |lse| * 2^-24, one sign per row, a bias the value and bias gradients would sum up). An infinite
// lse marks a row PyTorch's softmax makes all NaN (a +inf score, or only -inf).
void probabilities(double* s, int64_t rows, int64_t cols, bool whole, const float* lse) {
  for (int64_t r = 0; r < rows; ++r) {
    double* x = s + r * cols;
    if (std::isinf(lse[r])) {
      std::fill(x, x + cols, kNaN);
      continue;
    }
    if (!whole) {
      for (int64_t c = 0; c < cols; ++c) x[c] = std::exp(x[c] - lse[r]);
      continue;
    }
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < cols; ++c) m = x[c] > m ? x[c] : m;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) {
      x[c] = std::exp(x[c] - m);
      sum += x[c];
    }
    const double inv = 1.0 / sum;
    for (int64_t c = 0; c < cols; ++c) x[c] *= inv;
  }
}

// D[r] = sum_c a[r,c] * b[r,c].
void row_dots(const double* a, const double* b, int64_t rows, int64_t cols, double* D) {
  for (int64_t r = 0; r < rows; ++r) {
    double acc = 0;
    for (int64_t c = 0; c < cols; ++c) acc += a[r * cols + c] * b[r * cols + c];
    D[r] = acc;
  }
}

// The same over float rows: D = rowsum(dO * O), the softmax backward's D when rows span blocks.
void row_dots(const float* a, const float* b, int64_t rows, int64_t cols, double* D) {
  for (int64_t r = 0; r < rows; ++r) {
    double acc = 0;
    for (int64_t c = 0; c < cols; ++c) acc += static_cast<double>(a[r * cols + c]) * b[r * cols + c];
    D[r] = acc;
  }
}

// The forward's stored probabilities, rows of `cols` floats `ld` apart, widened; whole rows are
// renormalised in double for the reason given at probabilities().
void stored_probabilities(const float* p, int64_t ld, int64_t rows, int64_t cols, bool whole,
                          const float* lse, double* x) {
  for (int64_t r = 0; r < rows; ++r) {
    double* y = x + r * cols;
    if (std::isinf(lse[r])) {
      std::fill(y, y + cols, kNaN);
      continue;
    }
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += y[c] = p[r * ld + c];
    if (!whole) continue;
    const double inv = 1.0 / sum;
    for (int64_t c = 0; c < cols; ++c) y[c] *= inv;
  }
}

void narrow(const double* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

}  // namespace

// Each task group owns a contiguous run of one batch item's query tiles and, per tile and key
// block, recomputes P and dS, accumulates the tile's dQ and adds into the group's dK/dV partial;
// the partials are then summed in group order and rounded once.
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
  const double sc = scale;

  parallel_for(d.B * G, 1, [&](int64_t t0, int64_t t1) {
    Scratch w(d);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / G, g = t % G;
      double* gk = dk ? pk.data() + (b * G + g) * S * C : nullptr;
      double* gv = dv ? pv.data() + (b * G + g) * S * Cv : nullptr;
      for (int64_t tile = g * per; tile < std::min(tiles, (g + 1) * per); ++tile) {
        const int64_t i0 = tile * kTileQ, rows = std::min(kTileQ, d.N - i0);
        const double beta = tile == g * per ? 0.0 : 1.0;  // the group's first tile overwrites
        const int64_t at = b * d.N + i0;
        widen(q + at * C, rows * C, w.q.data());
        widen(dout + at * Cv, rows * Cv, w.dout.data());
        if (want_ds && !whole) row_dots(dout + at * Cv, out + at * Cv, rows, Cv, w.D.data());
        for (int64_t j0 = 0; j0 < S; j0 += block) {
          const int64_t cols = std::min(block, S - j0);
          widen(k + (b * S + j0) * C, cols * C, w.k.data());
          widen(v + (b * S + j0) * Cv, cols * Cv, w.v.data());
          if (p) {
            stored_probabilities(p + at * S + j0, S, rows, cols, whole, lse + at, w.p.data());
          } else {
            dgemm_serial(false, true, rows, cols, C, sc, w.q.data(), C, w.k.data(), C, 0.0, w.p.data(), cols);
            probabilities(w.p.data(), rows, cols, whole, lse + at);
          }
          if (dv)
            dgemm_serial(true, false, cols, Cv, rows, 1.0, w.p.data(), cols, w.dout.data(), Cv, beta,
                         gv + j0 * Cv, Cv);
          if (!want_ds) continue;
          // dS = P * (dO V^T - D), before the scale.
          double* ds = w.ds.data();
          dgemm_serial(false, true, rows, cols, Cv, 1.0, w.dout.data(), Cv, w.v.data(), Cv, 0.0, ds, cols);
          if (whole) row_dots(w.p.data(), ds, rows, cols, w.D.data());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c)
              ds[r * cols + c] = w.p[r * cols + c] * (ds[r * cols + c] - w.D[r]);
          if (dq)
            dgemm_serial(false, false, rows, C, cols, sc, ds, cols, w.k.data(), C, j0 == 0 ? 0.0 : 1.0,
                         w.dq.data(), C);
          if (dk) dgemm_serial(true, false, cols, C, rows, sc, ds, cols, w.q.data(), C, beta, gk + j0 * C, C);
        }
        if (dq) narrow(w.dq.data(), rows * C, dq + at * C);
      }
    }
  });

  auto reduce = [&](float* grad, const Buffer<double>& parts, int64_t width) {
    parallel_for(d.B * S, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / S, row = r % S;
        for (int64_t c = 0; c < width; ++c) {
          double acc = 0;
          for (int64_t g = 0; g < G; ++g) acc += parts[((b * G + g) * S + row) * width + c];
          grad[r * width + c] = static_cast<float>(acc);
        }
      }
    });
  };
  if (dk) reduce(dk, pk, C);
  if (dv) reduce(dv, pv, Cv);
}

}  // namespace ann
