// conv2d: the CUDA kernels against the CPU kernels on the parity geometries (pointwise, padded,
// strided, dilated, rectangular kernels, with and without bias, each gradient alone), on the chunked
// im2col path a large layer takes (the workspace bound lowered), and timed at the model's shapes.
#include "ann/conv.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../cuda/conv_workspace.h"
#include "harness.h"

namespace ann::cuda {
decltype(::ann::conv2d_forward) conv2d_forward;
decltype(::ann::conv2d_backward) conv2d_backward;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

struct Case {
  const char* name;
  Conv2dShape s;
  bool bias;
};

std::string label(const Case& c) {
  const Conv2dShape& s = c.s;
  return std::string(c.name) + " [" + std::to_string(s.batch) + "," + std::to_string(s.in_channels) + "," +
         std::to_string(s.height) + "," + std::to_string(s.width) + "] -> " + std::to_string(s.out_channels) +
         " k" + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) + " s" +
         std::to_string(s.stride_h) + " p" + std::to_string(s.pad_h) + " d" + std::to_string(s.dilation_h);
}

// Sum of |terms| bounds the rounding of a K-term dot product: tolerance per output element.
double tolerance(int64_t terms) { return 2e-6 * std::sqrt(static_cast<double>(terms)) + 1e-6; }

void check_case(Run& run, const Case& c, uint64_t seed) {
  const Conv2dShape& s = c.s;
  const int64_t Ho = s.out_height(), Wo = s.out_width();
  const int64_t nx = s.batch * s.in_channels * s.height * s.width;
  const int64_t nw = s.out_channels * s.in_channels * s.kernel_h * s.kernel_w;
  const int64_t ny = s.batch * s.out_channels * Ho * Wo;
  const int64_t K = s.in_channels * s.kernel_h * s.kernel_w;
  const std::vector<float> x = uniform(nx, seed), w = uniform(nw, seed + 1),
                           b = uniform(s.out_channels, seed + 2), dy = uniform(ny, seed + 3);
  const std::string at = label(c);

  std::vector<float> y(ny);
  ann::conv2d_forward(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
  DeviceFloats dx_(x), dw_(w), db_(b), ddy(dy), dy_out(ny);
  cuda::conv2d_forward(s, dx_.data(), dw_.data(), c.bias ? db_.data() : nullptr, dy_out.data());
  run.expect_close(at + " forward", dy_out.host().data(), y.data(), ny, tolerance(K), tolerance(K));

  // All three gradients, then each alone (the others null).
  std::vector<float> gx(nx), gw(nw), gb(s.out_channels);
  ann::conv2d_backward(s, dy.data(), x.data(), w.data(), gx.data(), gw.data(), gb.data());
  const double tol_x = tolerance(s.out_channels * s.kernel_h * s.kernel_w);
  const double tol_w = tolerance(s.batch * Ho * Wo);
  for (int only = -1; only < 3; ++only) {
    DeviceFloats ogx(nx), ogw(nw), ogb(s.out_channels);
    const bool want_x = only < 0 || only == 0, want_w = only < 0 || only == 1, want_b = only < 0 || only == 2;
    cuda::conv2d_backward(s, ddy.data(), dx_.data(), dw_.data(), want_x ? ogx.data() : nullptr,
                          want_w ? ogw.data() : nullptr, want_b ? ogb.data() : nullptr);
    const std::string which = only < 0    ? " backward"
                              : only == 0 ? " dx alone"
                              : only == 1 ? " dw alone"
                                          : " db alone";
    if (want_x) run.expect_close(at + which + " dx", ogx.host().data(), gx.data(), nx, tol_x, tol_x);
    if (want_w) run.expect_close(at + which + " dw", ogw.host().data(), gw.data(), nw, tol_w, tol_w);
    // Both sum in double and round once: the same float unless a sum sits on a rounding boundary.
    if (want_b) run.expect_close(at + which + " db", ogb.host().data(), gb.data(), s.out_channels, 0, 1.2e-7);
  }
}

const std::vector<Case>& parity_cases() {
  static const std::vector<Case> cases = {
      {"pointwise", {2, 5, 7, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1}, true},
      {"pointwise no bias", {3, 8, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1}, false},
      {"3x3 pad 1", {2, 3, 9, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1}, true},
      {"3x3 stride 2", {2, 4, 11, 10, 3, 3, 3, 2, 2, 1, 1, 1, 1}, false},
      {"3x3 dilation 2", {1, 6, 12, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2}, true},
      {"3x3 dilation 4", {2, 3, 13, 11, 2, 3, 3, 1, 1, 4, 4, 4, 4}, true},
      {"7x7 stride 2 pad 3 (stem)", {2, 3, 17, 15, 4, 7, 7, 2, 2, 3, 3, 1, 1}, false},
      {"1x1 stride 2 (downsample)", {2, 8, 9, 9, 6, 1, 1, 2, 2, 0, 0, 1, 1}, true},
      {"1x1 pad 1", {1, 3, 4, 5, 2, 1, 1, 1, 1, 1, 1, 1, 1}, true},
      {"2x3 mixed", {2, 3, 8, 9, 4, 2, 3, 2, 1, 1, 2, 1, 3}, true},
      {"kernel larger than input", {1, 2, 3, 3, 3, 5, 5, 1, 1, 2, 2, 1, 1}, true},
      {"stride 3 no pad", {3, 2, 10, 10, 3, 3, 3, 3, 3, 0, 0, 1, 1}, false},
  };
  return cases;
}

ANN_TEST("conv", conv2d_parity_shapes) {
  uint64_t seed = 10;
  for (const Case& c : parity_cases()) check_case(run, c, seed += 7);
}

// The chunked path: with the workspace bound at a few hundred floats every image is built and
// folded back in chunks of 32 output positions, chunk edges falling mid-row.
ANN_TEST("conv", conv2d_chunked_workspace) {
  const int64_t saved = cuda::conv_workspace_floats();
  cuda::set_conv_workspace_floats(300);
  try {
    uint64_t seed = 500;
    for (const Case& c : parity_cases())
      if (!c.s.is_pointwise()) check_case(run, c, seed += 3);
    check_case(run, {"chunked 3x3 dilation 2", {2, 5, 21, 19, 7, 3, 3, 1, 1, 2, 2, 2, 2}, true}, 900);
  } catch (...) {
    cuda::set_conv_workspace_floats(saved);
    throw;
  }
  cuda::set_conv_workspace_floats(saved);
}

ANN_TEST("conv", conv2d_random_shapes) {
  uint64_t r = 12345;
  auto next = [&](int64_t lo, int64_t hi) {
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    return lo + static_cast<int64_t>(r % static_cast<uint64_t>(hi - lo + 1));
  };
  for (int i = 0; i < 12; ++i) {
    Conv2dShape s{next(1, 3), next(1, 6), next(1, 12), next(1, 12), next(1, 6), next(1, 4), next(1, 4),
                  next(1, 3), next(1, 3), next(0, 3),  next(0, 3),  next(1, 3), next(1, 3)};
    if (s.out_height() <= 0 || s.out_width() <= 0) continue;
    check_case(run, {"random", s, next(0, 1) == 1}, 1000 + i);
  }
}

// The model's shapes (ANN on the dilated ResNet-101 at crop 769: the stage maps are 97x97).
ANN_TEST("conv", conv2d_model_sizes) {
  if (run.small) return;
  struct Timed {
    const char* name;
    Conv2dShape s;
  };
  const std::vector<Timed> shapes = {
      {"3x3 512->512 dilation 4 @97 b8", {8, 512, 97, 97, 512, 3, 3, 1, 1, 4, 4, 4, 4}},
      {"3x3 2048->512 @97 b8", {8, 2048, 97, 97, 512, 3, 3, 1, 1, 1, 1, 1, 1}},
      {"1x1 2048->512 @97 b8", {8, 2048, 97, 97, 512, 1, 1, 1, 1, 0, 0, 1, 1}},
      {"3x3 64->64 @193 b8", {8, 64, 193, 193, 64, 3, 3, 1, 1, 1, 1, 1, 1}},
  };
  for (const Timed& t : shapes) {
    const Conv2dShape& s = t.s;
    // Checked against the CPU on one image (the kernels' batch loop is the same for every image).
    Conv2dShape one = s;
    one.batch = 1;
    check_case(run, {t.name, one, true}, 77);
    const int64_t N = s.out_height() * s.out_width(), K = s.in_channels * s.kernel_h * s.kernel_w;
    const double flops = 2.0 * s.batch * s.out_channels * K * N;
    const int64_t nx = s.batch * s.in_channels * s.height * s.width;
    DeviceFloats x(uniform(nx, 1)), w(uniform(s.out_channels * K, 2)), b(uniform(s.out_channels, 3)),
        y(uniform(s.batch * s.out_channels * N, 4)), gx(nx), gw(s.out_channels * K), gb(s.out_channels);
    run.time(
        std::string(t.name) + " forward",
        [&] { cuda::conv2d_forward(s, x.data(), w.data(), b.data(), y.data()); }, 0, flops);
    run.time(
        std::string(t.name) + " backward (dx, dw, db)",
        [&] { cuda::conv2d_backward(s, y.data(), x.data(), w.data(), gx.data(), gw.data(), gb.data()); }, 0,
        2 * flops);
  }
}

}  // namespace
}  // namespace ann::tests
