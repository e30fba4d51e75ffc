// Small planes (an 8x8 map of the small preset has 64 output columns): each thread's run of images
// goes through one GEMM per region, its images' columns side by side in one [taps*Cin, nb*size]
// matrix, instead of one GEMM per image, whose few columns leave the BLAS mostly packing and
// starting up. The output and dy pass through a [Cout, nb*size] block copied to and from NCHW.
//
// The weight gradient keeps the per-image path's order: each run sums its images into its own
// slot (now one GEMM over the run's columns, the images in order along K, rather than one product
// per image added on), and the slots are added in run order; so the result depends on the shapes
// and the thread count only, and each dW element is still one float sum over the run's positions.
#include <algorithm>

#include "conv_plan.h"
#include "gemm.h"

namespace ann {
namespace {

// At most this many floats of columns per group of a run's images (a run may be split in groups).
constexpr int64_t kMaxGroupCols = int64_t{1} << 19;

struct Groups {
  int64_t parts, per;  // runs, images per group
};

Groups groups(const Conv2dShape& s, const RegionPlan& plan) {
  const int64_t parts = conv_image_parts(s, true);
  const int64_t run = (s.batch + parts - 1) / parts;
  const int64_t per_image = std::max<int64_t>(plan.cols, 1);
  return {parts, std::max<int64_t>(1, std::min(run, kMaxGroupCols / per_image))};
}

// fn(p, b0, nb, scratch) for each group [b0, b0 + nb) of run p, the groups of a run in order.
template <typename Fn>
void for_each_group(const Conv2dShape& s, const Groups& g, int64_t scratch_size, Fn fn) {
  parallel_for(g.parts, 1, [&](int64_t p0, int64_t p1) {
    Buffer<float> scratch(scratch_size);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t end = run_begin(s, g.parts, p + 1);
      for (int64_t b0 = run_begin(s, g.parts, p); b0 < end; b0 += g.per)
        fn(p, b0, std::min(g.per, end - b0), scratch.data());
    }
  });
}

int64_t out_scratch(const Conv2dShape& s, const RegionPlan& plan) {
  int64_t part = 0;
  for (const ConvRegion& r : plan.regions) part = std::max(part, s.out_channels * r.size());
  return part;
}

}  // namespace

bool conv_batched(const Conv2dShape& s) {
  return s.batch > 1 && !s.is_pointwise() && conv_image_flops(s) < kSmallImageFlops;
}

void conv2d_forward_batched(const Conv2dShape& s, const RegionPlan& plan, const float* x, const float* bias,
                            float* y) {
  const int64_t Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = RegionPlan::k(s);
  const Groups g = groups(s, plan);
  const int64_t cols_size = g.per * plan.cols, part_size = g.per * out_scratch(s, plan);
  for_each_group(s, g, cols_size + part_size, [&](int64_t, int64_t b0, int64_t nb, float* scratch) {
    float *cols = scratch, *part = scratch + cols_size;
    for (const ConvRegion& r : plan.regions) {
      const auto blocks = tap_blocks(s, r);
      const int64_t n = r.size(), L = nb * n;
      if (blocks.empty()) {  // every tap in the padding: the bias alone
        for (int64_t j = 0; j < nb; ++j) scatter_region(s, r, nullptr, bias, y + (b0 + j) * Cout * N);
        continue;
      }
      for (int64_t j = 0; j < nb; ++j) im2col_region(s, r, x + (b0 + j) * Cin * HW, cols + j * n, L);
      float beta = 0.0f;
      for (const TapBlock& t : blocks) {
        sgemm(false, false, Cout, L, t.k, 1.0f, plan.wt + t.weight_col, K, cols + t.row * L, L, beta, part,
              L);
        beta = 1.0f;
      }
      for (int64_t j = 0; j < nb; ++j) scatter_region(s, r, part + j * n, bias, y + (b0 + j) * Cout * N, L);
    }
  });
}

void conv2d_backward_batched(const Conv2dShape& s, const RegionPlan& plan, const float* dy, const float* x,
                             float* dx, float* dweight_parts) {
  const int64_t Cin = s.in_channels, Cout = s.out_channels, HW = s.height * s.width;
  const int64_t N = s.out_height() * s.out_width(), K = RegionPlan::k(s);
  const Groups g = groups(s, plan);
  const int64_t cols_size = g.per * plan.cols, part_size = g.per * out_scratch(s, plan);
  for_each_group(s, g, cols_size + part_size, [&](int64_t p, int64_t b0, int64_t nb, float* scratch) {
    float *cols = scratch, *part = scratch + cols_size;
    float* dw = dweight_parts ? dweight_parts + p * Cout * K : nullptr;
    if (dw && b0 == run_begin(s, g.parts, p)) std::fill(dw, dw + Cout * K, 0.0f);  // the run's first group
    if (dx) std::fill(dx + b0 * Cin * HW, dx + (b0 + nb) * Cin * HW, 0.0f);
    for (const ConvRegion& r : plan.regions) {
      const auto blocks = tap_blocks(s, r);
      if (blocks.empty()) continue;
      const int64_t n = r.size(), L = nb * n;
      for (int64_t j = 0; j < nb; ++j) gather_region(s, r, dy + (b0 + j) * Cout * N, part + j * n, L);
      if (dw) {
        for (int64_t j = 0; j < nb; ++j) im2col_region(s, r, x + (b0 + j) * Cin * HW, cols + j * n, L);
        for (const TapBlock& t : blocks)
          sgemm(false, true, Cout, t.k, L, 1.0f, part, L, cols + t.row * L, L, 1.0f, dw + t.weight_col, K);
      }
      if (dx) {
        // The region's dx columns (the dW columns are used up by now).
        for (const TapBlock& t : blocks)
          sgemm(true, false, t.k, L, Cout, 1.0f, plan.wt + t.weight_col, K, part, L, 0.0f, cols + t.row * L,
                L);
        for (int64_t j = 0; j < nb; ++j) col2im_region(s, r, cols + j * n, dx + (b0 + j) * Cin * HW, L);
      }
    }
  });
}

}  // namespace ann
