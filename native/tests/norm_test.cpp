// Batch norm: the CUDA kernels against the CPU kernels, train and eval forward (with and without
// affine parameters and running stats), backward in both modes with each output alone, on shapes
// from [B, C] to channels split over many blocks, and timed at the model's sizes.
#include "ann/norm.h"

#include <string>
#include <vector>

#include "harness.h"

namespace ann::cuda {
decltype(::ann::batch_norm_forward_train) batch_norm_forward_train;
decltype(::ann::batch_norm_forward_eval) batch_norm_forward_eval;
decltype(::ann::batch_norm_backward) batch_norm_backward;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

std::string label(const BatchNormShape& s) {
  return "[" + std::to_string(s.batch) + "," + std::to_string(s.channels) + "," + std::to_string(s.spatial) +
         "]";
}

// Statistics and per-element results are computed in double and rounded once on both sides; the
// order of the double sums differs, so a value may land one float ulp away.
constexpr double kUlp = 2.5e-7;

void check_shape(Run& run, const BatchNormShape& s, bool affine, uint64_t seed) {
  const int64_t n = s.batch * s.channels * s.spatial, C = s.channels;
  // An offset mean, so the two-pass variance and the backward's re-centring matter.
  const std::vector<float> x = uniform(n, seed, 2.0f, 5.0f), dy = uniform(n, seed + 1);
  const std::vector<float> w = uniform(C, seed + 2, 0.5f, 1.5f), b = uniform(C, seed + 3);
  const std::vector<float> rm0 = uniform(C, seed + 4), rv0 = uniform(C, seed + 5, 0.5f, 2.0f);
  const std::string at = label(s) + (affine ? " affine" : " plain");
  const float* cw = affine ? w.data() : nullptr;
  const float* cb = affine ? b.data() : nullptr;
  DeviceFloats gx(x), gdy(dy), gw(w), gb(b);
  const float* dw = affine ? gw.data() : nullptr;
  const float* db = affine ? gb.data() : nullptr;

  // Train forward, with and without the running stats.
  for (int running = 0; running < 2; ++running) {
    std::vector<float> y(n), mean(C), invstd(C), rm = rm0, rv = rv0;
    ann::batch_norm_forward_train(s, x.data(), cw, cb, running ? rm.data() : nullptr,
                                  running ? rv.data() : nullptr, 0.1, 1e-5, y.data(), mean.data(),
                                  invstd.data());
    DeviceFloats gy(n), gmean(C), ginvstd(C), grm(rm0), grv(rv0);
    cuda::batch_norm_forward_train(s, gx.data(), dw, db, running ? grm.data() : nullptr,
                                   running ? grv.data() : nullptr, 0.1, 1e-5, gy.data(), gmean.data(),
                                   ginvstd.data());
    const std::string t = at + (running ? " train+running" : " train");
    run.expect_close(t + " y", gy.host().data(), y.data(), n, 1e-6, kUlp);
    run.expect_close(t + " save_mean", gmean.host().data(), mean.data(), C, 0, kUlp);
    run.expect_close(t + " save_invstd", ginvstd.host().data(), invstd.data(), C, 0, kUlp);
    if (running) {
      run.expect_close(t + " running_mean", grm.host().data(), rm.data(), C, 0, kUlp);
      run.expect_close(t + " running_var", grv.host().data(), rv.data(), C, 0, kUlp);
    }

    // Backward in training mode from this forward's saved statistics, every output and each alone.
    std::vector<float> ddx(n), ddw(C), ddb(C);
    ann::batch_norm_backward(s, dy.data(), x.data(), cw, mean.data(), invstd.data(), true, ddx.data(),
                             ddw.data(), ddb.data());
    for (int only = -1; only < 3; ++only) {
      DeviceFloats ox(n), ow(C), ob(C);
      const bool want_x = only < 0 || only == 0, want_w = only < 0 || only == 1,
                 want_b = only < 0 || only == 2;
      cuda::batch_norm_backward(s, gdy.data(), gx.data(), dw, gmean.data(), ginvstd.data(), true,
                                want_x ? ox.data() : nullptr, want_w ? ow.data() : nullptr,
                                want_b ? ob.data() : nullptr);
      const std::string u = t + " backward" + (only < 0 ? "" : " alone");
      // Both compute dx in double from the same double sums (in another order) and round once;
      // dweight is a long sum whose terms cancel, compared on the scale of its terms.
      if (want_x) run.expect_close(u + " dx", ox.host().data(), ddx.data(), n, 1e-9, kUlp);
      if (want_w)
        run.expect_close(u + " dweight", ow.host().data(), ddw.data(), C, 1e-9 * s.batch * s.spatial, kUlp);
      if (want_b) run.expect_close(u + " dbias", ob.host().data(), ddb.data(), C, 0, kUlp);
    }
  }

  // Eval forward and its backward (mean and invstd constants).
  std::vector<float> y(n), mean(C), invstd(C);
  ann::batch_norm_forward_eval(s, x.data(), cw, cb, rm0.data(), rv0.data(), 1e-5, y.data(), mean.data(),
                               invstd.data());
  DeviceFloats gy(n), gmean(C), ginvstd(C), grm(rm0), grv(rv0);
  cuda::batch_norm_forward_eval(s, gx.data(), dw, db, grm.data(), grv.data(), 1e-5, gy.data(), gmean.data(),
                                ginvstd.data());
  run.expect_same(at + " eval y", gy.host().data(), y.data(), n);
  run.expect_same(at + " eval save_mean", gmean.host().data(), mean.data(), C);
  run.expect_same(at + " eval save_invstd", ginvstd.host().data(), invstd.data(), C);
  std::vector<float> ddx(n), ddw(C), ddb(C);
  ann::batch_norm_backward(s, dy.data(), x.data(), cw, mean.data(), invstd.data(), false, ddx.data(),
                           ddw.data(), ddb.data());
  DeviceFloats ox(n), ow(C), ob(C);
  cuda::batch_norm_backward(s, gdy.data(), gx.data(), dw, gmean.data(), ginvstd.data(), false, ox.data(),
                            ow.data(), ob.data());
  run.expect_same(at + " eval backward dx", ox.host().data(), ddx.data(), n);
  run.expect_close(at + " eval backward dweight", ow.host().data(), ddw.data(), C, 1e-6, kUlp);
  run.expect_close(at + " eval backward dbias", ob.host().data(), ddb.data(), C, 0, kUlp);
  DeviceFloats only_x(n);
  cuda::batch_norm_backward(s, gdy.data(), gx.data(), dw, gmean.data(), ginvstd.data(), false, only_x.data(),
                            nullptr, nullptr);
  run.expect_same(at + " eval backward dx alone", only_x.host().data(), ddx.data(), n);
}

ANN_TEST("norm", batch_norm_parity_shapes) {
  const std::vector<BatchNormShape> shapes = {
      {4, 3, 1},      // [B, C]
      {2, 5, 7},      // [B, C, L]
      {2, 4, 25},     // NCHW 5x5
      {3, 2, 300},    // more values than a block's threads per plane
      {1, 3, 10000},  // one image: the channel split over several blocks
      {16, 2, 33},    // a channel range that crosses planes mid-block
      {2, 700, 3},    // many channels
  };
  uint64_t seed = 40;
  for (const BatchNormShape& s : shapes)
    for (int affine = 0; affine < 2; ++affine) check_shape(run, s, affine == 1, seed += 11);
}

ANN_TEST("norm", batch_norm_model_sizes) {
  if (run.small) return;
  const std::vector<BatchNormShape> shapes = {{8, 64, 385 * 385}, {8, 2048, 97 * 97}};
  for (const BatchNormShape& s : shapes) {
    BatchNormShape one = s;
    one.batch = 2;
    check_shape(run, one, true, 99);
    const int64_t n = s.batch * s.channels * s.spatial, C = s.channels;
    DeviceFloats x(uniform(n, 1)), dy(uniform(n, 2)), w(uniform(C, 3)), b(uniform(C, 4)), rm(uniform(C, 5)),
        rv(uniform(C, 6, 0.5f, 1.5f)), y(n), mean(C), invstd(C), dx(n), dw(C), db(C);
    const std::string at = label(s);
    run.time(
        at + " train forward",
        [&] {
          cuda::batch_norm_forward_train(s, x.data(), w.data(), b.data(), rm.data(), rv.data(), 0.1, 1e-5,
                                         y.data(), mean.data(), invstd.data());
        },
        3.0 * n * 4);
    run.time(
        at + " eval forward",
        [&] {
          cuda::batch_norm_forward_eval(s, x.data(), w.data(), b.data(), rm.data(), rv.data(), 1e-5, y.data(),
                                        mean.data(), invstd.data());
        },
        2.0 * n * 4);
    run.time(
        at + " backward (dx, dw, db)",
        [&] {
          cuda::batch_norm_backward(s, dy.data(), x.data(), w.data(), mean.data(), invstd.data(), true,
                                    dx.data(), dw.data(), db.data());
        },
        5.0 * n * 4);
  }
}

}  // namespace
}  // namespace ann::tests
