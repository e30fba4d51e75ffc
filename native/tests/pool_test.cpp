// The pool family's CUDA kernels against the CPU kernels: max pool 2d, the fused pyramid pooling
// (avg and max, forward and backward), the sampled positions and their gather. Every CUDA kernel
// here adds in the CPU kernel's order, so results must be the CPU's bits, indices included.
// Shapes cover planes smaller than the levels, odd sizes, NaN and infinities, repeated indices.
#include "ann/pool.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../cuda/runtime.h"
#include "harness.h"

namespace ann::cuda {
decltype(::ann::find_bad_index) find_bad_index;
decltype(::ann::max_pool2d_forward) max_pool2d_forward;
decltype(::ann::max_pool2d_backward) max_pool2d_backward;
decltype(::ann::pyramid_pool_forward) pyramid_pool_forward;
decltype(::ann::pyramid_pool_backward) pyramid_pool_backward;
decltype(::ann::sample_pyramid_positions) sample_pyramid_positions;
decltype(::ann::sample_plain_positions) sample_plain_positions;
decltype(::ann::gather_positions_forward) gather_positions_forward;
decltype(::ann::gather_positions_backward) gather_positions_backward;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

class DeviceInts {
 public:
  explicit DeviceInts(int64_t n) : buf_(static_cast<size_t>(n)) {}
  explicit DeviceInts(const std::vector<int32_t>& host) : buf_(host.size()) {
    cuda::copy_to_device(buf_.data(), host.data(), host.size() * 4);
  }
  int32_t* data() const { return buf_.data(); }
  std::vector<int32_t> host() const {
    std::vector<int32_t> v(buf_.size());
    cuda::copy_to_host(v.data(), buf_.data(), v.size() * 4);
    return v;
  }

 private:
  cuda::Buffer<int32_t> buf_;
};

void expect_same_ints(Run& run, const std::string& what, const std::vector<int32_t>& got,
                      const std::vector<int32_t>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i]) {
      run.expect(false, what + ": element " + std::to_string(i) + " is " + std::to_string(got[i]) +
                            ", the CPU kernel's is " + std::to_string(want[i]));
      return;
    }
}

// Inputs with repeated values (ties) and, when asked, NaN and infinities sprinkled in.
std::vector<float> pool_input(int64_t n, uint64_t seed, bool nonfinite) {
  std::vector<float> x = uniform(n, seed);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 7 == 3) x[i] = std::round(x[i] * 2.f) / 2.f;  // ties
    if (!nonfinite) continue;
    if (i % 29 == 5) x[i] = NAN;
    if (i % 31 == 7) x[i] = INFINITY;
    if (i % 37 == 11) x[i] = -INFINITY;
  }
  return x;
}

std::string shape_name(int64_t planes, int64_t h, int64_t w, const std::vector<int64_t>& sizes) {
  std::string s = std::to_string(planes) + "x" + std::to_string(h) + "x" + std::to_string(w) + " levels";
  for (int64_t n : sizes) s += " " + std::to_string(n);
  return s;
}

void check_pyramid(Run& run, int64_t planes, int64_t h, int64_t w, const std::vector<int64_t>& sizes,
                   bool max_mode, bool nonfinite, uint64_t seed) {
  const std::string name =
      shape_name(planes, h, w, sizes) + (max_mode ? " max" : " avg") + (nonfinite ? " nonfinite" : "");
  const int64_t S = pyramid_total(sizes), hw = h * w;
  const std::vector<float> x = pool_input(planes * hw, seed, nonfinite);
  std::vector<float> y(planes * S), dx(planes * hw);
  std::vector<int32_t> idx(max_mode ? planes * S : 0);
  ann::pyramid_pool_forward(x.data(), y.data(), max_mode ? idx.data() : nullptr, planes, h, w, sizes,
                            max_mode);
  DeviceFloats dxin(x), dy_(planes * S), ddx(planes * hw);
  DeviceInts didx(max_mode ? planes * S : 1);
  cuda::pyramid_pool_forward(dxin.data(), dy_.data(), max_mode ? didx.data() : nullptr, planes, h, w, sizes,
                             max_mode);
  run.expect_same(name + ": forward", dy_.host().data(), y.data(), planes * S);
  if (max_mode) expect_same_ints(run, name + ": indices", didx.host(), idx);
  const std::vector<float> g = uniform(planes * S, seed + 1);
  ann::pyramid_pool_backward(g.data(), max_mode ? idx.data() : nullptr, dx.data(), planes, h, w, sizes,
                             max_mode);
  DeviceFloats dg(g);
  DeviceInts cidx(max_mode ? idx : std::vector<int32_t>(1));  // the CPU's indices: same input either way
  cuda::pyramid_pool_backward(dg.data(), max_mode ? cidx.data() : nullptr, ddx.data(), planes, h, w, sizes,
                              max_mode);
  run.expect_same(name + ": backward", ddx.host().data(), dx.data(), planes * hw);
}

ANN_TEST("pool", pyramid_pool_matches_cpu) {
  const std::vector<std::vector<int64_t>> level_sets = {
      {1, 3, 6, 8}, {1, 2, 3, 6}, {4}, {1, 4, 8, 12}, {5, 3}};
  const int64_t shapes[][3] = {{3, 1, 1},   {2, 2, 3},   {2, 7, 5}, {3, 13, 17},
                               {2, 32, 64}, {1, 9, 300}, {2, 41, 3}};
  uint64_t seed = 1;
  for (const auto& sizes : level_sets)
    for (const auto& s : shapes)
      for (int mode = 0; mode < 2; ++mode)
        check_pyramid(run, s[0], s[1], s[2], sizes, mode == 1, false, seed++);
  for (int mode = 0; mode < 2; ++mode) check_pyramid(run, 3, 16, 24, {1, 3, 6, 8}, mode == 1, true, seed++);
}

ANN_TEST("pool", pyramid_pool_many_cells) {
  // Levels whose cells do not fit in shared memory (the global-scratch path).
  check_pyramid(run, 2, 120, 130, {40, 41, 43}, false, false, 77);
  check_pyramid(run, 2, 120, 130, {40, 41, 43}, true, false, 78);
}

ANN_TEST("pool", pyramid_pool_timing) {
  if (run.small) return;
  const int64_t h = 128, w = 256;  // 1/8 of 1024 x 2048
  for (int64_t c : {256, 512, 1024, 2048}) {
    const int64_t S = 110, planes = c;
    const std::vector<int64_t> sizes = {1, 3, 6, 8};
    DeviceFloats x(uniform(planes * h * w, 5)), y(planes * S), dx(planes * h * w), g(uniform(planes * S, 6));
    DeviceInts idx(planes * S);
    const double in_bytes = 4.0 * planes * h * w;
    const std::string tag = "pyramid C=" + std::to_string(c) + " 128x256";
    run.time(
        tag + " avg forward",
        [&] { cuda::pyramid_pool_forward(x.data(), y.data(), nullptr, planes, h, w, sizes, false); },
        in_bytes);
    run.time(
        tag + " max forward",
        [&] { cuda::pyramid_pool_forward(x.data(), y.data(), idx.data(), planes, h, w, sizes, true); },
        in_bytes);
    run.time(
        tag + " avg backward",
        [&] { cuda::pyramid_pool_backward(g.data(), nullptr, dx.data(), planes, h, w, sizes, false); },
        in_bytes);
    run.time(
        tag + " max backward",
        [&] { cuda::pyramid_pool_backward(g.data(), idx.data(), dx.data(), planes, h, w, sizes, true); },
        in_bytes);
    // The times are only meaningful if the results are right: check the largest against the CPU.
    if (c == 2048) {
      std::vector<float> xh = x.host(), yh(planes * S);
      ann::pyramid_pool_forward(xh.data(), yh.data(), nullptr, planes, h, w, sizes, false);
      cuda::pyramid_pool_forward(x.data(), y.data(), nullptr, planes, h, w, sizes, false);
      run.expect_same(tag + " avg forward", y.host().data(), yh.data(), planes * S);
    }
  }
}

void check_max_pool(Run& run, int64_t planes, int64_t h, int64_t w, const MaxPool2dParams& p, bool nonfinite,
                    uint64_t seed) {
  const int64_t oh = pool_output_size(h, p.kh, p.sh, p.ph, p.dh, p.ceil_mode);
  const int64_t ow = pool_output_size(w, p.kw, p.sw, p.pw, p.dw, p.ceil_mode);
  if (oh < 1 || ow < 1) return;
  const std::string name = "max_pool2d " + std::to_string(planes) + "x" + std::to_string(h) + "x" +
                           std::to_string(w) + " k" + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
                           " s" + std::to_string(p.sh) + " p" + std::to_string(p.ph) + " d" +
                           std::to_string(p.dh) + (p.ceil_mode ? " ceil" : "") +
                           (nonfinite ? " nonfinite" : "");
  const std::vector<float> x = pool_input(planes * h * w, seed, nonfinite);
  std::vector<float> y(planes * oh * ow), dx(planes * h * w);
  std::vector<int32_t> idx(planes * oh * ow);
  ann::max_pool2d_forward(x.data(), y.data(), idx.data(), planes, h, w, oh, ow, p);
  DeviceFloats dxin(x), dy_(planes * oh * ow), ddx(planes * h * w);
  DeviceInts didx(planes * oh * ow);
  cuda::max_pool2d_forward(dxin.data(), dy_.data(), didx.data(), planes, h, w, oh, ow, p);
  run.expect_same(name + ": forward", dy_.host().data(), y.data(), planes * oh * ow);
  expect_same_ints(run, name + ": indices", didx.host(), idx);
  const std::vector<float> g = uniform(planes * oh * ow, seed + 1);
  ann::max_pool2d_backward(g.data(), idx.data(), dx.data(), planes, h, w, oh, ow);
  DeviceFloats dg(g);
  DeviceInts cidx(idx);
  cuda::max_pool2d_backward(dg.data(), cidx.data(), ddx.data(), planes, h, w, oh, ow);
  run.expect_same(name + ": backward", ddx.host().data(), dx.data(), planes * h * w);
}

ANN_TEST("pool", max_pool2d_matches_cpu) {
  const MaxPool2dParams params[] = {
      {3, 3, 2, 2, 1, 1, 1, 1, false},  // ResNet's stem pool
      {2, 2, 2, 2, 0, 0, 1, 1, false}, {3, 3, 1, 1, 1, 1, 1, 1, false}, {3, 2, 2, 3, 1, 0, 2, 1, false},
      {3, 3, 2, 2, 1, 1, 1, 1, true},  {2, 3, 3, 2, 0, 1, 1, 2, true},  {5, 5, 3, 3, 2, 2, 1, 1, true},
  };
  const int64_t shapes[][3] = {{2, 1, 1}, {3, 7, 9}, {2, 16, 16}, {1, 33, 20}, {2, 5, 64}};
  uint64_t seed = 100;
  for (const auto& p : params)
    for (const auto& s : shapes) check_max_pool(run, s[0], s[1], s[2], p, false, seed++);
  check_max_pool(run, 2, 15, 13, params[0], true, seed++);
  check_max_pool(run, 2, 15, 13, params[5], true, seed++);
}

ANN_TEST("pool", max_pool2d_backward_any_indices) {
  // Indices need not come from a forward: every one in [0, hw) still lands (scatter semantics).
  const int64_t planes = 2, h = 6, w = 7, oh = 3, ow = 4;
  std::vector<int32_t> idx(planes * oh * ow);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>((i * 17 + 5) % (h * w));
  idx[3] = idx[9] = idx[10] = 0;  // repeats
  const std::vector<float> g = uniform(planes * oh * ow, 9);
  std::vector<float> dx(planes * h * w);
  ann::max_pool2d_backward(g.data(), idx.data(), dx.data(), planes, h, w, oh, ow);
  DeviceFloats dg(g), ddx(planes * h * w);
  DeviceInts didx(idx);
  cuda::max_pool2d_backward(dg.data(), didx.data(), ddx.data(), planes, h, w, oh, ow);
  run.expect_same("max_pool2d backward, arbitrary indices", ddx.host().data(), dx.data(), planes * h * w);
}

ANN_TEST("pool", sampling_and_gather_match_cpu) {
  const int64_t b = 3, c = 4, h = 11, w = 13, hw = h * w;
  const std::vector<int64_t> sizes = {1, 3, 6, 8};
  const int64_t S = pyramid_total(sizes);
  for (uint64_t seed : {0ull, 7ull, 123456789ull}) {
    std::vector<int32_t> pos(b * S), plain(b * 50);
    ann::sample_pyramid_positions(pos.data(), b, h, w, sizes, seed);
    ann::sample_plain_positions(plain.data(), b, h, w, 50, seed);
    DeviceInts dpos(b * S), dplain(b * 50);
    cuda::sample_pyramid_positions(dpos.data(), b, h, w, sizes, seed);
    cuda::sample_plain_positions(dplain.data(), b, h, w, 50, seed);
    expect_same_ints(run, "sample_pyramid_positions seed " + std::to_string(seed), dpos.host(), pos);
    expect_same_ints(run, "sample_plain_positions seed " + std::to_string(seed), dplain.host(), plain);
  }
  // Gather with repeated positions (pyramid levels overlap on a small map), and a long list that
  // takes the serial path.
  for (int64_t s : {int64_t(110), int64_t(3000)}) {
    std::vector<int32_t> pos(b * s);
    for (int64_t i = 0; i < b * s; ++i) pos[i] = static_cast<int32_t>((i * 7919 + i / 5) % hw);
    const std::vector<float> x = uniform(b * c * hw, 11), g = uniform(b * c * s, 12);
    std::vector<float> y(b * c * s), dx(b * c * hw);
    ann::gather_positions_forward(x.data(), pos.data(), y.data(), b, c, hw, s);
    ann::gather_positions_backward(g.data(), pos.data(), dx.data(), b, c, hw, s);
    DeviceFloats dxin(x), dyo(b * c * s), dg(g), ddx(b * c * hw);
    DeviceInts dpos(pos);
    cuda::gather_positions_forward(dxin.data(), dpos.data(), dyo.data(), b, c, hw, s);
    cuda::gather_positions_backward(dg.data(), dpos.data(), ddx.data(), b, c, hw, s);
    const std::string tag = "gather s=" + std::to_string(s);
    run.expect_same(tag + " forward", dyo.host().data(), y.data(), b * c * s);
    run.expect_same(tag + " backward", ddx.host().data(), dx.data(), b * c * hw);
  }
}

ANN_TEST("pool", find_bad_index_matches_cpu) {
  const int64_t n = 100000, limit = 5000;
  std::vector<int32_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = static_cast<int32_t>((i * 7919) % limit);
  DeviceInts all_good(idx);
  run.expect(cuda::find_bad_index(all_good.data(), n, limit) == -1, "find_bad_index: all inside gives -1");
  idx[70001] = -1;
  idx[90000] = limit;
  idx[65536] = limit + 3;  // the first bad one, among several in different blocks
  DeviceInts bad(idx);
  const int64_t got = cuda::find_bad_index(bad.data(), n, limit);
  run.expect(got == ann::find_bad_index(idx.data(), n, limit) && got == 65536,
             "find_bad_index: first bad position " + std::to_string(got) + ", expected 65536");
}

}  // namespace
}  // namespace ann::tests
