// What conv.cpp and conv_batched.cpp share: how a batch is split into runs of images, and the
// region plan of a call.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "alloc.h"
#include "ann/conv.h"
#include "conv_regions.h"
#include "parallel.h"

namespace ann {

// Below this many flops per image, images run in parallel (one run of them per thread) instead of
// splitting each image's GEMM: small layers are dominated by the per-call overhead.
constexpr double kSmallImageFlops = 2.0e7;

inline double conv_image_flops(const Conv2dShape& s) {
  return 2.0 * s.out_channels * s.in_channels * s.kernel_h * s.kernel_w * s.out_height() * s.out_width();
}

// Runs of contiguous images: one per thread for small images, else one (whose work is split over
// the pool inside it). The split depends only on the batch size and the thread count, so per-run
// partial sums are reproducible.
inline int64_t conv_image_parts(const Conv2dShape& s, bool small) {
  return small ? std::min<int64_t>(s.batch, num_threads()) : 1;
}
inline int64_t run_begin(const Conv2dShape& s, int64_t parts, int64_t p) { return p * s.batch / parts; }

// What the region path needs once per call: the regions, the weight in the taps-first layout (for a
// cut plane) and the scratch one image uses: the columns of the largest region, and a [Cout, size]
// block for the output or dy of regions that do not span whole output rows (the GEMMs cannot
// reach those in place).
struct RegionPlan {
  std::vector<ConvRegion> regions;
  Buffer<float> taps_first;
  const float* wt = nullptr;
  int64_t cols = 0, part = 0;

  RegionPlan(const Conv2dShape& s, const float* weight, bool may_cut = true)
      : regions(conv_regions(s, may_cut)),
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

// Small images (conv_image_flops under kSmallImageFlops, not pointwise) with the images of each run
// side by side: per region, one GEMM over the run's columns instead of one per image. The plan of
// these is a whole plane (RegionPlan(s, w, false)): at 8x8 and 9x9 the cut regions' GEMMs are a few
// columns wide even over four images, and the whole plane at 56% padding taps ran faster (fwd+bwd
// 8x128x9x9 dilation 4, 2 threads: cut per image 7.3-8.7 ms, cut side by side 10.1, whole side by
// side 5.1-5.5). dweight_parts holds one slot per run, summed by conv_weight_from_parts.
bool conv_batched(const Conv2dShape& s);
void conv2d_forward_batched(const Conv2dShape& s, const RegionPlan& plan, const float* x, const float* bias,
                            float* y);
void conv2d_backward_batched(const Conv2dShape& s, const RegionPlan& plan, const float* dy, const float* x,
                             float* dx, float* dweight_parts);

}  // namespace ann
