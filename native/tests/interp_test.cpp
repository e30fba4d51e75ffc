// Bilinear interpolation: the CUDA kernels against the CPU kernels, up and down, align_corners both
// ways, with PyTorch's scale_factor, kept axes, single-pixel planes; timed at the model's 97 -> 769.
#include "ann/interp.h"

#include <string>
#include <vector>

#include "harness.h"

namespace ann::cuda {
decltype(::ann::interpolate_bilinear_forward) interpolate_bilinear_forward;
decltype(::ann::interpolate_bilinear_backward) interpolate_bilinear_backward;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

std::string label(const InterpShape& s) {
  return std::to_string(s.planes) + "x" + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " -> " +
         std::to_string(s.out_h) + "x" + std::to_string(s.out_w) + (s.align_corners ? " align" : "") +
         (s.scale_h > 0 ? " scale " + std::to_string(s.scale_h) + "," + std::to_string(s.scale_w) : "");
}

void check_shape(Run& run, const InterpShape& s, uint64_t seed) {
  const int64_t nin = s.planes * s.in_h * s.in_w, nout = s.planes * s.out_h * s.out_w;
  const std::vector<float> x = uniform(nin, seed), dy = uniform(nout, seed + 1);
  std::vector<float> y(nout), dx(nin);
  ann::interpolate_bilinear_forward(s, x.data(), y.data());
  ann::interpolate_bilinear_backward(s, dy.data(), dx.data());
  DeviceFloats gx(x), gdy(dy), gy(nout), gdx(nin);
  cuda::interpolate_bilinear_forward(s, gx.data(), gy.data());
  cuda::interpolate_bilinear_backward(s, gdy.data(), gdx.data());
  // The forward is three float multiply-adds (fused or not); the backward sums in double in the
  // CPU's order and rounds once.
  run.expect_close(label(s) + " forward", gy.host().data(), y.data(), nout, 3e-7, 3e-7);
  run.expect_close(label(s) + " backward", gdx.host().data(), dx.data(), nin, 1e-12, 1.2e-7);
}

ANN_TEST("interp", bilinear_parity_shapes) {
  const std::vector<InterpShape> shapes = {
      {3, 5, 7, 11, 13, false},
      {3, 5, 7, 11, 13, true},  // up
      {2, 13, 11, 4, 5, false},
      {2, 13, 11, 4, 5, true},  // down
      {2, 6, 6, 6, 6, false},
      {2, 6, 6, 6, 6, true},  // kept: a copy
      {2, 6, 5, 6, 9, false},
      {2, 5, 6, 9, 6, true},  // one axis kept
      {1, 1, 1, 4, 3, false},
      {1, 1, 1, 4, 3, true},  // from one pixel
      {1, 4, 3, 1, 1, false},
      {1, 4, 3, 1, 1, true},               // to one pixel
      {2, 4, 4, 10, 10, false, 2.5, 2.5},  // scale_factor given
      {2, 5, 5, 7, 12, false, 1.5, 2.5},   // 1/scale != in/out
      {2, 12, 12, 97, 97, true},           // the model's 1/8 -> crop ratio
      {4, 97, 97, 12, 12, false},          // its backward's shape
  };
  uint64_t seed = 70;
  for (const InterpShape& s : shapes) check_shape(run, s, seed += 5);
}

ANN_TEST("interp", bilinear_random_shapes) {
  uint64_t r = 777;
  auto next = [&](int64_t lo, int64_t hi) {
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    return lo + static_cast<int64_t>(r % static_cast<uint64_t>(hi - lo + 1));
  };
  for (int i = 0; i < 16; ++i) {
    InterpShape s{next(1, 3), next(1, 20), next(1, 20), next(1, 40), next(1, 40), next(0, 1) == 1};
    check_shape(run, s, 300 + i);
  }
}

ANN_TEST("interp", bilinear_model_sizes) {
  if (run.small) return;
  for (int ac = 0; ac < 2; ++ac) {
    const InterpShape s{8 * 19, 97, 97, 769, 769, ac == 1};
    check_shape(run, InterpShape{2 * 19, 97, 97, 769, 769, ac == 1}, 5);
    const int64_t nin = s.planes * s.in_h * s.in_w, nout = s.planes * s.out_h * s.out_w;
    DeviceFloats x(uniform(nin, 1)), y(nout), dy(uniform(nout, 2)), dx(nin);
    run.time(
        label(s) + " forward", [&] { cuda::interpolate_bilinear_forward(s, x.data(), y.data()); },
        4.0 * (nin + nout));
    run.time(
        label(s) + " backward", [&] { cuda::interpolate_bilinear_backward(s, dy.data(), dx.data()); },
        4.0 * (nin + nout));
  }
}

}  // namespace
}  // namespace ann::tests
