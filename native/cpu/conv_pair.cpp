// The fuse conv of ANN's blocks over cat([a, b]) as two GEMMs into one output, so the [B, Ca+Cb,
// H, W] concatenation (the block's largest activation at 2048 channels) is never built.
#include <algorithm>

#include "ann/conv.h"
#include "gemm.h"
#include "parallel.h"

namespace ann {
namespace {

// As conv.cpp: below this many flops per image, images run one per thread on serial GEMMs.
constexpr double kSmallImageFlops = 2.0e7;

void image(int64_t HW, int64_t Cout, int64_t Ca, int64_t Cb, const float* a, const float* wa, const float* b,
           const float* wb, const float* bias, float* y, bool serial) {
  auto gemm = serial ? sgemm_serial : sgemm;
  float beta = 0.0f;
  if (bias) {
    for (int64_t o = 0; o < Cout; ++o) std::fill(y + o * HW, y + (o + 1) * HW, bias[o]);
    beta = 1.0f;
  }
  gemm(false, false, Cout, HW, Ca, 1.0f, wa, Ca, a, HW, beta, y, HW);
  gemm(false, false, Cout, HW, Cb, 1.0f, wb, Cb, b, HW, 1.0f, y, HW);
}

}  // namespace

void conv1x1_pair_forward(int64_t B, int64_t HW, int64_t Cout, int64_t Ca, int64_t Cb, const float* a,
                          const float* wa, const float* b, const float* wb, const float* bias, float* y) {
  const bool small = B > 1 && num_threads() > 1 && 2.0 * Cout * (Ca + Cb) * HW < kSmallImageFlops;
  auto one = [&](int64_t i, bool serial) {
    image(HW, Cout, Ca, Cb, a + i * Ca * HW, wa, b + i * Cb * HW, wb, bias, y + i * Cout * HW, serial);
  };
  if (small) {
    parallel_for(B, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) one(i, true);
    });
  } else {
    for (int64_t i = 0; i < B; ++i) one(i, false);
  }
}

}  // namespace ann
