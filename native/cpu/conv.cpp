// conv2d as GEMMs over the BLAS: a 1x1 stride-1 unpadded conv is W [Cout,Cin] x X_b [Cin,HW];
// any other runs region by region (conv_regions.h: the taps that fall in the padding are skipped),
// each region W_taps [Cout, taps*Cin] x im2col(X_b, region). Backward: dW_taps += dY_region x cols^T,
// dcols = W_taps^T x dY_region folded back by a per-channel col2im (each channel's plane is written
// by one thread, in a fixed order, so the result is deterministic). Small stride-1 planes take the
// direct kernel instead (conv_direct.h).
#include "ann/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "alloc.h"
#include "conv_direct.h"
#include "conv_regions.h"
#include "gemm.h"
#include "parallel.h"

namespace ann {
namespace {

// Below this many flops per image, images run in parallel (one per thread) instead of
// splitting each image's GEMM: small layers are dominated by the per-call overhead.
constexpr double kSmallImageFlops = 2.0e7;

double image_flops(const Conv2dShape& s) {
  return 2.0 * s.out_channels * s.in_channels * s.kernel_h * s.kernel_w * s.out_height() * s.out_width();
}

// Splits the batch into `parts` contiguous runs of images: one run for a large image (whose
// work is split over the pool inside it), one per thread for small ones. fn(part, b, cols) runs
// for every image; each run has its own column buffer. The split depends only on the batch size
// and the thread count, so per-run partial sums are reproducible.
int64_t image_parts(const Conv2dShape& s, bool small) {
  return small ? std::min<int64_t>(s.batch, num_threads()) : 1;
}

template <typename Fn>
void for_each_image(const Conv2dShape& s, int64_t cols_size, int64_t parts, Fn fn) {
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    Buffer<float> cols(cols_size);
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t b = p * s.batch / parts; b < (p + 1) * s.batch / parts; ++b) fn(p, b, cols.data());
  });
}

bool small_images(const Conv2dShape& s) {
  return s.batch > 1 && num_threads() > 1 && image_flops(s) < kSmallImageFlops;
}

// What the region path needs once per call: the regions, the weight in the taps-first layout (for a
// cut plane) and the scratch one image uses: the columns of the largest region, and a [Cout, size]
// block for the output or dy of regions that do not span whole output rows (the GEMMs cannot
// reach those in place). (Giving the small images of a run one GEMM per region did not pay.)
struct RegionPlan {
  std::vector<ConvRegion> regions;
  Buffer<float> taps_first;
  const float* wt = nullptr;
  int64_t cols = 0, part = 0;

  RegionPlan(const Conv2dShape& s, const float* weight)
      : regions(conv_regions(s)),
        taps_first(weight && cut() && s.kernel_h * s.kernel_w > 1 ? s.out_channels * k(s) : 0) {
    wt = taps_first.size() ? taps_first.data() : weight;
    if (taps_first.size()) conv_weight_taps_first(s, weight, taps_first.data());
    for (const ConvRegion& r : regions) {
      cols = std::max(cols, r.taps() * s.in_channels * r.size());
      if (!direct(s, r)) part = std::max(part, s.out_channels * r.size());
    }
  }
  static int64_t k(const Conv2dShape& s) { return s.in_channels * s.kernel_h * s.kernel_w; }
  // Whether the plane is cut into regions (taps-first layout) rather than one whole-plane region.
  bool cut() const { return !regions.empty() && !regions[0].whole; }
  // A region over whole output rows is a contiguous [Cout, size] block of the image (row stride Ho*Wo).
  static bool direct(const Conv2dShape& s, const ConvRegion& r) {
    return r.ow0 == 0 && r.ow1 == s.out_width();
  }
};

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const int64_t Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), Wo = s.out_width(), K = Cin * s.kernel_h * s.kernel_w;
  if (conv_direct_fits(s)) return conv_direct_forward(s, x, weight, bias, y);
  const int64_t parts = image_parts(s, small_images(s));
  if (s.is_pointwise()) {
    for_each_image(s, 0, parts, [&](int64_t, int64_t b, float*) {
      float* yb = y + b * Cout * N;
      float beta = 0.0f;
      if (bias) {
        // Start from the bias so the GEMM adds onto it in the same pass.
        for (int64_t o = 0; o < Cout; ++o) std::fill(yb + o * N, yb + (o + 1) * N, bias[o]);
        beta = 1.0f;
      }
      sgemm(false, false, Cout, N, Cin, 1.0f, weight, Cin, x + b * Cin * HW, N, beta, yb, N);
    });
    return;
  }
  const RegionPlan plan(s, weight);
  for_each_image(s, plan.cols + plan.part, parts, [&](int64_t, int64_t b, float* scratch) {
    const float* xb = x + b * Cin * HW;
    float* yb = y + b * Cout * N;
    float *cols = scratch, *part = scratch + plan.cols;
    for (const ConvRegion& r : plan.regions) {
      const auto blocks = tap_blocks(s, r);
      if (blocks.empty()) {  // every tap in the padding: the bias alone
        scatter_region(s, r, nullptr, bias, yb);
        continue;
      }
      const int64_t n = r.size();
      const bool direct = RegionPlan::direct(s, r);
      float* out = direct ? yb + r.oh0 * Wo : part;
      const int64_t ldo = direct ? N : n;
      float beta = 0.0f;
      if (direct && bias) {
        // Start from the bias so the GEMM adds onto it in the same pass.
        for (int64_t o = 0; o < Cout; ++o) std::fill(out + o * N, out + o * N + n, bias[o]);
        beta = 1.0f;
      }
      im2col_region(s, r, xb, cols);
      for (const TapBlock& t : blocks) {
        sgemm(false, false, Cout, n, t.k, 1.0f, plan.wt + t.weight_col, K, cols + t.row * n, n, beta, out,
              ldo);
        beta = 1.0f;
      }
      if (!direct) scatter_region(s, r, part, bias, yb);
    }
  });
}

void conv2d_backward(const Conv2dShape& s, const float* dy, const float* x, const float* weight, float* dx,
                     float* dweight, float* dbias) {
  const int64_t B = s.batch, Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = Cin * s.kernel_h * s.kernel_w;
  const bool pointwise = s.is_pointwise();

  if (dbias) {
    // Double accumulation (eight lanes, which vectorise): one channel sums B*Ho*Wo terms.
    parallel_for(Cout, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double acc = 0.0;
        for (int64_t b = 0; b < B; ++b) {
          const float* p = dy + (b * Cout + o) * N;
          double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          int64_t i = 0;
          for (; i + 8 <= N; i += 8)
            for (int j = 0; j < 8; ++j) part[j] += p[i + j];
          double sum = 0.0;
          for (int j = 0; j < 8; ++j) sum += part[j];
          for (; i < N; ++i) sum += p[i];
          acc += sum;
        }
        dbias[o] = static_cast<float>(acc);
      }
    });
  }
  if (conv_direct_fits(s)) {
    if (dx) conv_direct_data_grad(s, dy, weight, dx);
    if (dweight) conv_direct_weight_grad(s, dy, x, dweight);
    return;
  }
  if (!dx && !dweight) return;

  const int64_t parts = image_parts(s, small_images(s));
  if (pointwise) {
    // With several runs of images in parallel each run sums its weight gradient into its own slot;
    // the slots are added afterwards in run order.
    Buffer<float> dw_parts(parts > 1 && dweight ? static_cast<size_t>((parts - 1) * Cout * Cin) : 0);
    for_each_image(s, 0, parts, [&](int64_t p, int64_t b, float*) {
      const float* xb = x + b * Cin * HW;
      const float* dyb = dy + b * Cout * N;
      if (dweight) {
        float* dw = p == 0 ? dweight : dw_parts.data() + (p - 1) * Cout * Cin;
        const float beta = b == p * B / parts ? 0.0f : 1.0f;  // the run's first image overwrites
        sgemm(false, true, Cout, Cin, N, 1.0f, dyb, N, xb, N, beta, dw, Cin);
      }
      if (dx) sgemm(true, false, Cin, N, Cout, 1.0f, weight, Cin, dyb, N, 0.0f, dx + b * Cin * HW, N);
    });
    if (parts > 1 && dweight) {
      const int64_t total = Cout * Cin;
      parallel_for(total, 4096, [&](int64_t i0, int64_t i1) {
        for (int64_t p = 1; p < parts; ++p) {
          const float* part = dw_parts.data() + (p - 1) * total;
          for (int64_t i = i0; i < i1; ++i) dweight[i] += part[i];
        }
      });
    }
    return;
  }

  const RegionPlan plan(s, dx ? weight : nullptr);
  const int64_t Wo = s.out_width();
  // Each run of images sums its weight gradient (taps-first for a cut plane) into its own slot; the
  // slots are added in run order as they are turned into [Cout, Cin, kh, kw].
  Buffer<float> dwt(dweight ? static_cast<size_t>(parts * Cout * K) : 0);
  for_each_image(s, plan.cols + plan.part, parts, [&](int64_t p, int64_t b, float* scratch) {
    const float* xb = x + b * Cin * HW;
    const float* dyb = dy + b * Cout * N;
    float *cols = scratch, *part = scratch + plan.cols;
    float* dw = dweight ? dwt.data() + p * Cout * K : nullptr;
    if (dw && b == p * B / parts) std::fill(dw, dw + Cout * K, 0.0f);  // the run's first image
    float* dxb = dx ? dx + b * Cin * HW : nullptr;
    if (dxb) std::fill(dxb, dxb + Cin * HW, 0.0f);
    for (const ConvRegion& r : plan.regions) {
      const auto blocks = tap_blocks(s, r);
      if (blocks.empty()) continue;
      const int64_t n = r.size();
      const bool direct = RegionPlan::direct(s, r);
      const float* g = direct ? dyb + r.oh0 * Wo : part;
      const int64_t ldg = direct ? N : n;
      if (!direct) gather_region(s, r, dyb, part);
      if (dw) {
        im2col_region(s, r, xb, cols);
        for (const TapBlock& t : blocks)
          sgemm(false, true, Cout, t.k, n, 1.0f, g, ldg, cols + t.row * n, n, 1.0f, dw + t.weight_col, K);
      }
      if (dxb) {
        // The region's dx columns (the dW columns are used up by now).
        for (const TapBlock& t : blocks)
          sgemm(true, false, t.k, n, Cout, 1.0f, plan.wt + t.weight_col, K, g, ldg, 0.0f, cols + t.row * n,
                n);
        col2im_region(s, r, cols, dxb);
      }
    }
  });
  if (dweight) conv_weight_from_parts(s, dwt.data(), parts, plan.cut(), dweight);
}

}  // namespace ann
