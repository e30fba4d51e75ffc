// Sum over any set of axes (sum, mean, sumTo). The shape is first collapsed to alternating runs of
// reduced and kept dims; then either the innermost run is reduced (contiguous sums per output) or
// it is kept (whole rows accumulated per output row). Accumulation is in double: these sums feed
// losses and bias gradients over up to millions of values, where float accumulation drifts.
#include <algorithm>
#include <cstring>

#include "alloc.h"
#include "ann/elementwise.h"
#include "ann/reduce_plan.h"
#include "parallel.h"

namespace ann {
namespace {

constexpr int64_t kGrain = 16384;

using Dims = StridedDims;

// Offsets of `rows` consecutive entries of an index space given outermost-first by `d`.
struct Walker {
  const Dims& d;
  int64_t idx[kMaxRank] = {0};
  int64_t off = 0;
  Walker(const Dims& dims, int64_t start) : d(dims) {
    for (int i = d.n - 1; i >= 0; --i) {
      idx[i] = start % d.size[i];
      start /= d.size[i];
      off += idx[i] * d.stride[i];
    }
  }
  void next() {
    for (int i = d.n - 1; i >= 0; --i) {
      off += d.stride[i];
      if (++idx[i] < d.size[i]) return;
      off -= d.stride[i] * d.size[i];
      idx[i] = 0;
    }
  }
};

#if defined(__x86_64__)
#define ANN_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ANN_SIMD_CLONES
#endif

// Eight independent lanes let the compiler keep several vector adds in flight (a single chain is
// latency-bound at one add per four cycles).
ANN_SIMD_CLONES double sum_run(const float* __restrict x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
  double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += x[i];
  return s;
}

ANN_SIMD_CLONES void add_row(double* __restrict acc, const float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

}  // namespace

void reduce_sum(const float* x, const Shape& shape, const std::vector<bool>& reduce, double scale,
                float* out) {
  const ReducePlan plan = reduce_plan(shape, reduce);
  const Dims &kept = plan.kept, &red = plan.red;
  const int64_t inner_len = plan.inner, n_kept = plan.n_kept, n_red = plan.n_red;
  const bool inner_reduced = plan.inner_reduced;

  if (inner_reduced) {
    // out[o] = sum over n_red rows of inner_len contiguous values.
    const int64_t work = n_red * inner_len;
    if (n_kept >= num_threads() * 4 || work * n_kept < 4 * kGrain) {
      parallel_for(n_kept, std::max<int64_t>(1, kGrain / work), [&](int64_t b, int64_t e) {
        Walker ko(kept, b);
        for (int64_t o = b; o < e; ++o, ko.next()) {
          double s = 0;
          Walker ro(red, 0);
          for (int64_t r = 0; r < n_red; ++r, ro.next()) s += sum_run(x + ko.off + ro.off, inner_len);
          out[o] = static_cast<float>(s * scale);
        }
      });
      return;
    }
    // Few outputs over much data (a full sum): each output's rows x inner_len values are split
    // into per-chunk partial sums, combined in chunk order.
    const int chunks = num_threads();
    std::vector<double> part(chunks);
    Walker ko(kept, 0);
    for (int64_t o = 0; o < n_kept; ++o, ko.next()) {
      std::fill(part.begin(), part.end(), 0.0);
      const int64_t per = (work + chunks - 1) / chunks;
      parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce; ++c) {
          int64_t i = c * per;
          const int64_t end = std::min(work, i + per);
          if (i >= end) continue;
          Walker ro(red, i / inner_len);
          int64_t col = i % inner_len;
          double s = 0;
          while (i < end) {
            const int64_t len = std::min(inner_len - col, end - i);
            s += sum_run(x + ko.off + ro.off + col, len);
            i += len;
            col = 0;
            ro.next();
          }
          part[c] = s;
        }
      });
      double s = 0;
      for (double v : part) s += v;
      out[o] = static_cast<float>(s * scale);
    }
    return;
  }

  // Innermost run kept: out[o, 0:K] = sum over n_red rows x[o, r, 0:K].
  const int64_t K = inner_len;
  const int64_t col_block = 1024;
  const int64_t n_cb = (K + col_block - 1) / col_block;
  const int64_t tasks = n_kept * n_cb;
  if (tasks >= num_threads() || n_red * K * n_kept < 4 * kGrain) {
    parallel_for(tasks, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n_red * std::min(K, col_block))),
                 [&](int64_t b, int64_t e) {
                   Buffer<double> acc(static_cast<size_t>(std::min(K, col_block)));
                   for (int64_t t = b; t < e; ++t) {
                     const int64_t o = t / n_cb, c0 = (t % n_cb) * col_block,
                                   cn = std::min(col_block, K - c0);
                     Walker ko(kept, o);
                     std::fill(acc.data(), acc.data() + cn, 0.0);
                     Walker ro(red, 0);
                     for (int64_t r = 0; r < n_red; ++r, ro.next())
                       add_row(acc.data(), x + ko.off + ro.off + c0, cn);
                     for (int64_t k = 0; k < cn; ++k)
                       out[o * K + c0 + k] = static_cast<float>(acc[k] * scale);
                   }
                 });
    return;
  }
  // Few, narrow outputs over many rows: per-chunk partial rows, combined in chunk order.
  const int chunks = num_threads();
  const int64_t width = n_kept * K;
  Buffer<double> part(static_cast<size_t>(chunks * width));
  std::fill(part.data(), part.data() + chunks * width, 0.0);
  const int64_t per = (n_red + chunks - 1) / chunks;
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t r0 = c * per, r1 = std::min(n_red, r0 + per);
      if (r0 >= r1) continue;
      Walker ko(kept, 0);
      for (int64_t o = 0; o < n_kept; ++o, ko.next()) {
        double* acc = part.data() + c * width + o * K;
        Walker ro(red, r0);
        for (int64_t r = r0; r < r1; ++r, ro.next()) add_row(acc, x + ko.off + ro.off, K);
      }
    }
  });
  for (int64_t j = 0; j < width; ++j) {
    double s = 0;
    for (int c = 0; c < chunks; ++c) s += part[c * width + j];
    out[j] = static_cast<float>(s * scale);
  }
}

}  // namespace ann
