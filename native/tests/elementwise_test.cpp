// The elementwise family and sgd_step: each CUDA kernel against the CPU kernel on the same inputs,
// bit-identical except for the sums (double accumulation in another order, rounded once to float)
// and the products (cuBLAS against OpenBLAS), at the parity tests' shapes and, with --full, at the
// sizes of the paper's network (ResNet-101 features at 97x97, batch 8, 512/2048 channels).
#include "ann/elementwise.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../cuda/blas.h"
#include "../cuda/runtime.h"
#include "ann/optim.h"
#include "harness.h"

namespace ann::cuda {
decltype(::ann::relu) relu;
decltype(::ann::relu_backward) relu_backward;
decltype(::ann::affine) affine;
decltype(::ann::axpy_inplace) axpy_inplace;
decltype(::ann::copy) copy;
decltype(::ann::fill) fill;
decltype(::ann::binary) binary;
decltype(::ann::broadcast_to) broadcast_to;
decltype(::ann::reduce_sum) reduce_sum;
decltype(::ann::permute) permute;
decltype(::ann::copy2d) copy2d;
decltype(::ann::matmul) matmul;
decltype(::ann::dropout_mask) dropout_mask;
decltype(::ann::channel_scale) channel_scale;
decltype(::ann::sgd_step) sgd_step;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

std::string str(const Shape& s) { return shape_str(s); }

// Inputs with the special values the kernels must pass through as the CPU does.
std::vector<float> with_specials(int64_t n, uint64_t seed) {
  auto v = uniform(n, seed, -2.f, 2.f);
  const float specials[] = {0.f,
                            -0.f,
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1e-39f};
  for (int64_t i = 0; i < n && i < 6; ++i) v[static_cast<size_t>(i * 7 % n)] = specials[i];
  return v;
}

int64_t pointwise_n(const Run& run) { return run.small ? 70001 : int64_t{8} * 512 * 97 * 97; }

}  // namespace

ANN_TEST("elementwise", pointwise_ops_match_cpu) {
  const int64_t n = pointwise_n(run);
  const auto x = with_specials(n, 1), g = uniform(n, 2);
  DeviceFloats dx(x), dg(g), dy(n);
  std::vector<float> want(static_cast<size_t>(n));

  relu(x.data(), want.data(), n);
  cuda::relu(dx.data(), dy.data(), n);
  run.expect_same("relu", dy.host().data(), want.data(), n);
  run.time(
      "relu " + std::to_string(n), [&] { cuda::relu(dx.data(), dy.data(), n); }, 8.0 * n);

  relu_backward(g.data(), x.data(), want.data(), n);
  cuda::relu_backward(dg.data(), dx.data(), dy.data(), n);
  run.expect_same("relu_backward", dy.host().data(), want.data(), n);

  affine(x.data(), 0.37f, -1.25f, want.data(), n);
  cuda::affine(dx.data(), 0.37f, -1.25f, dy.data(), n);
  run.expect_same("affine", dy.host().data(), want.data(), n);
  run.time(
      "affine " + std::to_string(n), [&] { cuda::affine(dx.data(), 0.37f, -1.25f, dy.data(), n); }, 8.0 * n);

  for (float alpha : {1.f, -0.3f}) {
    std::vector<float> acc = g;
    axpy_inplace(acc.data(), x.data(), alpha, n);
    DeviceFloats dacc(g);
    cuda::axpy_inplace(dacc.data(), dx.data(), alpha, n);
    run.expect_same("axpy_inplace alpha " + std::to_string(alpha), dacc.host().data(), acc.data(), n);
  }

  cuda::copy(dx.data(), dy.data(), n);
  run.expect_same("copy", dy.host().data(), x.data(), n);
  fill(want.data(), -2.5f, n);
  cuda::fill(dy.data(), -2.5f, n);
  run.expect_same("fill", dy.host().data(), want.data(), n);
}

ANN_TEST("elementwise", binary_broadcasts_match_cpu) {
  std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{4, 5}, {5}}, {{3, 1}, {1, 4}},
      {{2, 3, 4}, {2, 3, 4}},       {{1}, {6, 7}}, {{2, 1, 4}, {3, 1}},
      {{5, 1, 1, 3}, {1, 2, 7, 1}}, {{0, 3}, {3}}};
  if (!run.small) cases.push_back({{8, 512, 97, 97}, {1, 512, 1, 1}});
  for (const auto& [sa, sb] : cases) {
    Shape so;
    broadcast_shapes(sa, sb, &so);
    const int64_t n = numel(so);
    const auto a = with_specials(numel(sa), 3), b = uniform(numel(sb), 4, 0.5f, 2.f);
    DeviceFloats da(a), db(b), dy(n);
    std::vector<float> want(static_cast<size_t>(n));
    const char* names[] = {"add", "sub", "mul", "div"};
    for (int op = 0; op < 4; ++op) {
      binary(static_cast<BinaryOp>(op), a.data(), sa, b.data(), sb, want.data());
      cuda::binary(static_cast<BinaryOp>(op), da.data(), sa, db.data(), sb, dy.data());
      run.expect_same(std::string(names[op]) + " " + str(sa) + " " + str(sb), dy.host().data(), want.data(),
                      n);
    }
    run.time(
        "add " + str(sa) + " " + str(sb),
        [&] { cuda::binary(BinaryOp::Add, da.data(), sa, db.data(), sb, dy.data()); }, 8.0 * n);
    // and the operands swapped
    binary(BinaryOp::Sub, b.data(), sb, a.data(), sa, want.data());
    cuda::binary(BinaryOp::Sub, db.data(), sb, da.data(), sa, dy.data());
    run.expect_same("sub swapped " + str(sb) + " " + str(sa), dy.host().data(), want.data(), n);
  }
  DeviceFloats d1(6), d2(6), d3(6);
  bool threw = false;
  try {
    cuda::binary(BinaryOp::Add, d1.data(), {2, 3}, d2.data(), {3, 2}, d3.data());
  } catch (const Error& e) {
    threw = std::string(e.what()).find("[2,3]") != std::string::npos;
  }
  run.expect(threw, "binary of [2,3] and [3,2] throws naming the shapes");
}

ANN_TEST("elementwise", broadcast_to_matches_cpu) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 1}, {2, 3, 4}}, {{1}, {5, 5}}, {{4}, {3, 4}}, {{2, 1, 3}, {2, 4, 3}}, {{1, 1}, {1, 1}}};
  for (const auto& [sx, so] : cases) {
    const auto x = uniform(numel(sx), 5);
    DeviceFloats dx(x), dy(numel(so));
    std::vector<float> want(static_cast<size_t>(numel(so)));
    broadcast_to(x.data(), sx, so, want.data());
    cuda::broadcast_to(dx.data(), sx, so, dy.data());
    run.expect_same("broadcast_to " + str(sx) + " -> " + str(so), dy.host().data(), want.data(), numel(so));
  }
}

ANN_TEST("elementwise", reduce_sum_matches_cpu) {
  struct Case {
    Shape shape;
    std::vector<bool> reduce;
  };
  std::vector<Case> cases = {
      {{2, 3, 4, 5}, {true, false, true, true}},  // bias gradient of an NCHW tensor
      {{2, 3, 4, 5}, {false, true, false, false}},
      {{2, 3, 4, 5}, {false, false, false, true}},
      {{2, 3, 4, 5}, {true, true, true, true}},
      {{2, 3, 4, 5}, {true, false, false, false}},
      {{2, 3, 4, 5}, {false, false, false, false}},
      {{100003}, {true}},           // one output over many values: split in parts
      {{20011, 3}, {true, false}},  // narrow rows: parts over rows
      {{7, 300, 2}, {false, true, false}},
      {{3, 1, 5}, {false, true, true}},
      {{0, 4}, {true, false}},
  };
  if (!run.small) {
    cases.push_back({{8, 512, 97, 97}, {true, false, true, true}});
    cases.push_back({{8, 19, 769, 769}, {true, true, true, true}});
  }
  for (const auto& c : cases) {
    const int64_t n = numel(c.shape);
    const auto x = uniform(n, 6, -1.f, 3.f);
    int64_t outs = 1;
    for (size_t d = 0; d < c.shape.size(); ++d)
      if (!c.reduce[d]) outs *= c.shape[d];
    const double scale = n ? static_cast<double>(outs) / static_cast<double>(n) : 1.0;
    DeviceFloats dx(x), dy(outs);
    std::vector<float> want(static_cast<size_t>(outs));
    reduce_sum(x.data(), c.shape, c.reduce, scale, want.data());
    cuda::reduce_sum(dx.data(), c.shape, c.reduce, scale, dy.data());
    std::string mask;
    for (bool r : c.reduce) mask += r ? "r" : "k";
    // Both accumulate in double and round once: they agree to float rounding.
    run.expect_close("reduce_sum " + str(c.shape) + " " + mask, dy.host().data(), want.data(), outs, 1e-6,
                     1e-6);
    run.time(
        "reduce_sum " + str(c.shape) + " " + mask,
        [&] { cuda::reduce_sum(dx.data(), c.shape, c.reduce, scale, dy.data()); }, 4.0 * n);
  }
}

ANN_TEST("elementwise", permute_and_copy2d_match_cpu) {
  std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{2, 3, 4, 5}, {3, 2, 1, 0}}, {{2, 3, 4, 5}, {1, 0, 2, 3}},
      {{2, 3, 4, 5}, {0, 1, 2, 3}}, {{6, 1, 7}, {2, 1, 0}},       {{33, 65}, {1, 0}}};
  if (!run.small) cases.push_back({{8, 512, 97 * 97}, {0, 2, 1}});
  for (const auto& [shape, dims] : cases) {
    const int64_t n = numel(shape);
    const auto x = uniform(n, 7);
    DeviceFloats dx(x), dy(n);
    std::vector<float> want(static_cast<size_t>(n));
    permute(x.data(), shape, dims, want.data());
    cuda::permute(dx.data(), shape, dims, dy.data());
    std::string d;
    for (int v : dims) d += std::to_string(v);
    run.expect_same("permute " + str(shape) + " " + d, dy.host().data(), want.data(), n);
    run.time(
        "permute " + str(shape) + " " + d, [&] { cuda::permute(dx.data(), shape, dims, dy.data()); },
        8.0 * n);
  }
  const int64_t rows = 5, cols = 7, sld = 10, dld = 9;
  const auto src = uniform(rows * sld, 8);
  std::vector<float> want(rows * dld, -1.f);
  DeviceFloats ds(src), dd(want);
  copy2d(src.data(), sld, want.data(), dld, rows, cols);
  cuda::copy2d(ds.data(), sld, dd.data(), dld, rows, cols);
  run.expect_same("copy2d", dd.host().data(), want.data(), rows * dld);
}

ANN_TEST("elementwise", matmul_matches_cpu) {
  struct Case {
    int64_t batch, M, N, K;
    bool a_shared, b_shared;
  };
  std::vector<Case> cases = {{3, 5, 7, 4, false, false}, {3, 5, 7, 4, true, false},
                             {3, 5, 7, 4, false, true},  {1, 1, 1, 1, false, false},
                             {2, 6, 3, 0, false, false}, {4, 33, 17, 65, false, false}};
  if (!run.small) {
    cases.push_back({8, 256, 110, 256, false, false});   // attention's products at the paper's S
    cases.push_back({8, 9409, 512, 2048, false, true});  // a 1x1 convolution as a product
  }
  for (const auto& c : cases)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t na = (c.a_shared ? 1 : c.batch) * c.M * c.K, nb = (c.b_shared ? 1 : c.batch) * c.K * c.N;
      const int64_t ny = c.batch * c.M * c.N;
      const auto a = uniform(na, 9), b = uniform(nb, 10);
      DeviceFloats da(a), db(b), dy(ny);
      std::vector<float> want(static_cast<size_t>(ny));
      matmul(a.data(), b.data(), want.data(), c.batch, c.a_shared, c.b_shared, c.M, c.N, c.K, ta, tb);
      cuda::matmul(da.data(), db.data(), dy.data(), c.batch, c.a_shared, c.b_shared, c.M, c.N, c.K, ta, tb);
      const std::string label = "matmul b" + std::to_string(c.batch) + " " + std::to_string(c.M) + "x" +
                                std::to_string(c.N) + "x" + std::to_string(c.K) + (ta ? " tA" : "") +
                                (tb ? " tB" : "") + (c.a_shared ? " sharedA" : "") +
                                (c.b_shared ? " sharedB" : "");
      // Float32 products of K terms in another order: within K ulps of the larger terms.
      const double tol = 4e-7 * std::max<int64_t>(c.K, 1);
      run.expect_close(label, dy.host().data(), want.data(), ny, tol, tol);
      if (t == 0)
        run.time(
            label,
            [&] {
              cuda::matmul(da.data(), db.data(), dy.data(), c.batch, c.a_shared, c.b_shared, c.M, c.N, c.K,
                           ta, tb);
            },
            4.0 * (na + nb + ny), 2.0 * c.batch * c.M * c.N * c.K);
    }
}

ANN_TEST("elementwise", blas_wrappers_keep_leading_dimensions) {
  // A sub-matrix product: A, B and C are windows into wider buffers, so a wrapper that passed the
  // width instead of the leading dimension (or swapped the operands wrongly) reads the wrong values.
  const int64_t M = 3, N = 4, K = 5, lda = 9, ldb = 6, ldc = 7;
  const auto a = uniform(M * lda, 11), b = uniform(K * ldb, 12);
  std::vector<float> c(M * ldc, 0.5f), want(c);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(a[i * lda + k]) * b[k * ldb + j];
      want[i * ldc + j] = static_cast<float>(2.0 * s + 0.5 * 0.5);
    }
  DeviceFloats da(a), db(b), dc(c);
  cuda::sgemm(false, false, M, N, K, 2.f, da.data(), lda, db.data(), ldb, 0.5f, dc.data(), ldc);
  run.expect_close("sgemm with leading dimensions", dc.host().data(), want.data(), M * ldc, 1e-5, 1e-5);
  bool threw = false;
  try {
    cuda::sgemm(false, false, M, N, K, 1.f, da.data(), 2, db.data(), ldb, 0.f, dc.data(), ldc);  // lda < K
  } catch (const Error& e) {
    threw = std::string(e.what()).find("CUBLAS_STATUS_INVALID_VALUE") != std::string::npos;
  }
  run.expect(threw, "an lda below K is cuBLAS's INVALID_VALUE, named");
}

ANN_TEST("elementwise", dropout_and_channel_scale_match_cpu) {
  const int64_t channels = run.small ? 37 : 8 * 512, inner = run.small ? 13 : 97 * 97;
  for (double p : {0.0, 0.1, 0.5, 1.0}) {
    std::vector<float> want(channels);
    dropout_mask(42, p, channels, want.data());
    DeviceFloats dm(channels);
    cuda::dropout_mask(42, p, channels, dm.data());
    run.expect_same("dropout_mask p " + std::to_string(p), dm.host().data(), want.data(), channels);
  }
  const auto x = uniform(channels * inner, 13), s = uniform(channels, 14);
  std::vector<float> want(x.size());
  channel_scale(x.data(), s.data(), channels, inner, want.data());
  DeviceFloats dx(x), ds(s), dy(channels * inner);
  cuda::channel_scale(dx.data(), ds.data(), channels, inner, dy.data());
  run.expect_same("channel_scale", dy.host().data(), want.data(), channels * inner);
}

ANN_TEST("optim", sgd_step_matches_cpu) {
  const int64_t n = run.small ? 10007 : 42'000'000;  // ResNet-101 ANN's parameters, about
  const auto p0 = uniform(n, 15), g = uniform(n, 16), m0 = uniform(n, 17);
  struct Variant {
    const char* name;
    SgdOptions o;
  };
  const Variant variants[] = {
      {"plain", {0.01, 0, 0, 0, false, false}},
      {"momentum first step", {0.01, 0.9, 0, 5e-4, false, true}},
      {"momentum", {0.01, 0.9, 0, 5e-4, false, false}},
      {"nesterov dampening", {0.05, 0.9, 0.1, 1e-4, true, false}},
  };
  for (const auto& v : variants) {
    std::vector<float> p = p0, m = m0;
    sgd_step(p.data(), g.data(), v.o.momentum != 0 ? m.data() : nullptr, n, v.o);
    DeviceFloats dp(p0), dg(g), dm(m0);
    cuda::sgd_step(dp.data(), dg.data(), v.o.momentum != 0 ? dm.data() : nullptr, n, v.o);
    run.expect_same(std::string("sgd ") + v.name + " param", dp.host().data(), p.data(), n);
    if (v.o.momentum != 0)
      run.expect_same(std::string("sgd ") + v.name + " buffer", dm.host().data(), m.data(), n);
    run.time(
        std::string("sgd ") + v.name,
        [&] { cuda::sgd_step(dp.data(), dg.data(), v.o.momentum != 0 ? dm.data() : nullptr, n, v.o); },
        (v.o.momentum != 0 ? 20.0 : 12.0) * n);
  }
}

}  // namespace ann::tests
