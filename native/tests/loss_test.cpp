// The loss family: softmax / log-softmax and their backward, argmax (ties, NaN), find_bad_target,
// cross-entropy (ignore index, class weights, every reduction) and the OHEM cross-entropy (the
// threshold from the device's radix select, min_kept below and above the valid count, nothing
// valid, NaN logits), CUDA against the CPU kernels; OHEM timed at the paper's 8x19x769x769.
#include "ann/loss.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../cuda/runtime.h"
#include "harness.h"

namespace ann::cuda {
decltype(::ann::softmax_forward) softmax_forward;
decltype(::ann::softmax_backward) softmax_backward;
decltype(::ann::argmax) argmax;
decltype(::ann::find_bad_target) find_bad_target;
decltype(::ann::cross_entropy_forward) cross_entropy_forward;
decltype(::ann::cross_entropy_backward) cross_entropy_backward;
decltype(::ann::ohem_cross_entropy_forward) ohem_cross_entropy_forward;
decltype(::ann::ohem_cross_entropy_backward) ohem_cross_entropy_backward;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

// exp and log differ in the last bits between the CPU's polynomial and the CUDA library.
constexpr double kRtol = 2e-6, kAtol = 1e-7;

class DeviceInts {
 public:
  explicit DeviceInts(const std::vector<int32_t>& host)
      : n_(static_cast<int64_t>(host.size())),
        ptr_(static_cast<int32_t*>(cuda::device_alloc(std::max<size_t>(host.size(), 1) * 4))) {
    cuda::copy_to_device(ptr_, host.data(), host.size() * 4);
  }
  explicit DeviceInts(int64_t n)
      : n_(n),
        ptr_(static_cast<int32_t*>(cuda::device_alloc(std::max<size_t>(static_cast<size_t>(n), 1) * 4))) {}
  ~DeviceInts() { cuda::device_free(ptr_, std::max<size_t>(static_cast<size_t>(n_), 1) * 4); }
  DeviceInts(const DeviceInts&) = delete;
  DeviceInts& operator=(const DeviceInts&) = delete;
  int32_t* data() const { return ptr_; }
  std::vector<int32_t> host() const {
    std::vector<int32_t> v(static_cast<size_t>(n_));
    cuda::copy_to_host(v.data(), ptr_, v.size() * 4);
    return v;
  }

 private:
  int64_t n_;
  int32_t* ptr_;
};

std::string dims(int64_t a, int64_t b, int64_t c) {
  return "[" + std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(c) + "]";
}

ANN_TEST("loss", softmax_parity_shapes) {
  const int64_t shapes[][3] = {{2, 5, 7},   {3, 19, 300}, {1, 1, 9}, {4, 7, 1},
                               {5, 100, 1}, {2, 70, 1},   {1, 3, 1}};
  uint64_t seed = 1;
  for (const auto& d : shapes) {
    const int64_t outer = d[0], n = d[1], inner = d[2], total = outer * n * inner;
    const std::vector<float> x = uniform(total, ++seed, -6.f, 6.f), dy = uniform(total, ++seed);
    DeviceFloats gx(x), gdy(dy);
    for (int log = 0; log < 2; ++log) {
      const std::string at = std::string(log ? "logSoftmax " : "softmax ") + dims(outer, n, inner);
      std::vector<float> y(total), dx(total);
      ann::softmax_forward(x.data(), y.data(), outer, n, inner, log);
      ann::softmax_backward(dy.data(), y.data(), dx.data(), outer, n, inner, log);
      DeviceFloats gy(total), gdx(total);
      cuda::softmax_forward(gx.data(), gy.data(), outer, n, inner, log);
      run.expect_close(at + " forward", gy.host().data(), y.data(), total, kAtol, kRtol);
      // The backward from the CPU's y, so only the backward's own arithmetic is compared.
      DeviceFloats cy(y);
      cuda::softmax_backward(gdy.data(), cy.data(), gdx.data(), outer, n, inner, log);
      run.expect_close(at + " backward", gdx.host().data(), dx.data(), total, 1e-6, kRtol);
    }
  }
  // A row with -inf and a row with NaN: the max skips NaN, the NaN reaches every output.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1.f, -inf, 3.f, 0.f, 2.f, nan, 1.f, 0.f};
  for (int64_t inner : {int64_t(1), int64_t(2)}) {
    std::vector<float> y(8);
    ann::softmax_forward(x.data(), y.data(), 8 / (4 * inner), 4, inner, false);
    DeviceFloats gx(x), gy(8);
    cuda::softmax_forward(gx.data(), gy.data(), 8 / (4 * inner), 4, inner, false);
    run.expect_close("softmax with -inf and NaN, inner " + std::to_string(inner), gy.host().data(), y.data(),
                     8, kAtol, kRtol);
  }
}

ANN_TEST("loss", argmax_ties_and_nan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t inner : {int64_t(1), int64_t(3), int64_t(40)}) {
    for (int64_t n : {int64_t(1), int64_t(5), int64_t(37), int64_t(100)}) {
      const int64_t outer = 3, total = outer * n * inner;
      std::vector<float> x = uniform(total, static_cast<uint64_t>(n * 7 + inner));
      for (auto& v : x) v = std::round(v * 2.f);  // few distinct values: many ties
      for (int64_t i = 0; i < total; i += 53) x[i] = nan;
      std::vector<int32_t> want(outer * inner);
      ann::argmax(x.data(), want.data(), outer, n, inner);
      DeviceFloats gx(x);
      DeviceInts got(outer * inner);
      cuda::argmax(gx.data(), got.data(), outer, n, inner);
      run.expect(got.host() == want, "argmax " + dims(outer, n, inner) + " differs from the CPU kernel");
    }
  }
}

ANN_TEST("loss", find_bad_target_positions) {
  const int64_t count = 5000;
  std::vector<int32_t> t(count);
  for (int64_t i = 0; i < count; ++i) t[i] = static_cast<int32_t>(i % 19);
  t[4000] = 255;
  DeviceInts all_valid(t);
  run.expect(cuda::find_bad_target(all_valid.data(), count, 19, 255) == -1, "all valid labels: expected -1");
  for (int64_t at : {int64_t(0), int64_t(1234), int64_t(4999)}) {
    std::vector<int32_t> u = t;
    u[at] = 19;
    u[4500] = -1;  // a later bad one: the first must win
    DeviceInts d(u);
    const int64_t got = cuda::find_bad_target(d.data(), count, 19, 255);
    const int64_t want = ann::find_bad_target(u.data(), count, 19, 255);
    run.expect(got == want && got == std::min<int64_t>(at, 4500),
               "find_bad_target: " + std::to_string(got) + ", the CPU's " + std::to_string(want));
  }
  std::vector<int32_t> neg = {0, -100, 3, -100};
  DeviceInts dn(neg);
  run.expect(cuda::find_bad_target(dn.data(), 4, 4, -100) == -1, "ignore_index -100 is not a bad label");
  run.expect(cuda::find_bad_target(dn.data(), 4, 4, 255) == 1, "-100 without ignore_index -100 is bad at 1");
}

struct CeCase {
  int64_t batch, classes, inner;
  bool weighted;
  double ignored;  // fraction of pixels at ignore_index
};

std::vector<int32_t> labels(int64_t pixels, int64_t classes, double ignored, int64_t ignore_index,
                            uint64_t seed) {
  const std::vector<float> u = uniform(pixels, seed, 0.f, 1.f), c = uniform(pixels, seed + 1, 0.f, 1.f);
  std::vector<int32_t> t(static_cast<size_t>(pixels));
  for (int64_t i = 0; i < pixels; ++i)
    t[i] = u[i] < ignored
               ? static_cast<int32_t>(ignore_index)
               : std::min<int32_t>(static_cast<int32_t>(c[i] * classes), static_cast<int32_t>(classes - 1));
  return t;
}

const std::vector<CeCase>& ce_cases() {
  static const std::vector<CeCase> cases = {
      {2, 5, 7, false, 0.2},  {2, 19, 300, true, 0.1}, {3, 4, 1, true, 0.0},
      {1, 7, 50, false, 1.0}, {4, 2, 33, true, 0.5},
  };
  return cases;
}

ANN_TEST("loss", cross_entropy_parity) {
  uint64_t seed = 200;
  for (const CeCase& c : ce_cases()) {
    const CrossEntropyShape s{c.batch, c.classes, c.inner, 255};
    const int64_t P = s.pixels(), total = P * c.classes;
    const std::vector<float> x = uniform(total, seed += 3, -4.f, 4.f),
                             w = uniform(c.classes, seed + 1, 0.2f, 2.f);
    const std::vector<int32_t> t = labels(P, c.classes, c.ignored, 255, seed + 2);
    const std::vector<float> dl = uniform(P, seed + 3);
    DeviceFloats gx(x), gw(w), gdl(dl);
    DeviceInts gt(t);
    const float* cw = c.weighted ? w.data() : nullptr;
    const float* dw = c.weighted ? gw.data() : nullptr;
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      const std::string at = "crossEntropy " + dims(c.batch, c.classes, c.inner) +
                             (c.weighted ? " weighted" : "") +
                             (r == Reduction::None   ? " none"
                              : r == Reduction::Mean ? " mean"
                                                     : " sum");
      const int64_t nout = r == Reduction::None ? P : 1;
      std::vector<float> out(nout), dx(total);
      ann::cross_entropy_forward(s, x.data(), t.data(), cw, r, out.data());
      ann::cross_entropy_backward(s, dl.data(), x.data(), t.data(), cw, r, dx.data());
      DeviceFloats gout(nout), gdx(total);
      cuda::cross_entropy_forward(s, gx.data(), gt.data(), dw, r, gout.data());
      cuda::cross_entropy_backward(s, gdl.data(), gx.data(), gt.data(), dw, r, gdx.data());
      run.expect_close(at + " forward", gout.host().data(), out.data(), nout, 1e-6, kRtol);
      run.expect_close(at + " backward", gdx.host().data(), dx.data(), total, 1e-8, kRtol);
    }
  }
}

struct OhemCase {
  const char* name;
  CeCase c;
  OhemOptions o;
  bool nan_logit = false;
};

void check_ohem(Run& run, const OhemCase& oc, uint64_t seed) {
  const CeCase& c = oc.c;
  const CrossEntropyShape s{c.batch, c.classes, c.inner, 255};
  const int64_t P = s.pixels(), total = P * c.classes;
  std::vector<float> x = uniform(total, seed, -3.f, 3.f);
  if (oc.nan_logit) x[total / 2] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> w = uniform(c.classes, seed + 1, 0.2f, 2.f);
  const std::vector<int32_t> t = labels(P, c.classes, c.ignored, 255, seed + 2);
  const float* cw = c.weighted ? w.data() : nullptr;
  DeviceFloats gx(x), gw(w);
  DeviceInts gt(t);
  const float* dw = c.weighted ? gw.data() : nullptr;
  const std::string at = std::string("ohem ") + oc.name + " " + dims(c.batch, c.classes, c.inner);

  const OhemResult want = ann::ohem_cross_entropy_forward(s, oc.o, x.data(), t.data(), cw);
  const OhemResult got = cuda::ohem_cross_entropy_forward(s, oc.o, gx.data(), gt.data(), dw);
  run.expect(got.valid == want.valid,
             at + ": valid " + std::to_string(got.valid) + ", the CPU's " + std::to_string(want.valid));
  run.expect(got.kept == want.kept,
             at + ": kept " + std::to_string(got.kept) + ", the CPU's " + std::to_string(want.kept));
  const bool thr_ok = (std::isnan(got.threshold) && std::isnan(want.threshold)) ||
                      std::fabs(got.threshold - want.threshold) <= kRtol * std::fabs(want.threshold);
  run.expect(thr_ok, at + ": threshold " + std::to_string(got.threshold) + ", the CPU's " +
                         std::to_string(want.threshold));
  run.expect_close(at + " loss", &got.loss, &want.loss, 1, 1e-7, kRtol);

  // Backward from the forward's selection and with it recomputed: the same gradient.
  std::vector<float> dx(total);
  ann::ohem_cross_entropy_backward(s, oc.o, 0.75f, x.data(), t.data(), cw, dx.data(), nullptr);
  DeviceFloats known_dx(total), fresh_dx(total);
  const OhemSelection sel = got;
  cuda::ohem_cross_entropy_backward(s, oc.o, 0.75f, gx.data(), gt.data(), dw, known_dx.data(), &sel);
  cuda::ohem_cross_entropy_backward(s, oc.o, 0.75f, gx.data(), gt.data(), dw, fresh_dx.data(), nullptr);
  const std::vector<float> k = known_dx.host(), f = fresh_dx.host();
  run.expect_same(at + " backward: known selection vs recomputed", k.data(), f.data(), total);
  run.expect_close(at + " backward", f.data(), dx.data(), total, 1e-9, kRtol);
}

ANN_TEST("loss", ohem_cross_entropy_parity) {
  const std::vector<OhemCase> cases = {
      {"min_kept inside", {2, 19, 300, false, 0.1}, {0.7, 200}},
      {"weighted", {2, 5, 200, true, 0.2}, {0.7, 150}},
      {"thresh dominates", {2, 5, 100, false, 0.0}, {0.99, 10}},
      {"min_kept above valid", {1, 4, 64, true, 0.3}, {0.7, 100000}},
      {"min_kept 0", {2, 3, 50, false, 0.0}, {0.1, 0}},
      // thresh 0: the k-th smallest probability alone decides (radix select's every digit matters).
      {"k-th decides", {2, 19, 300, false, 0.1}, {0.0, 200}},
      {"k-th decides, weighted", {3, 6, 77, true, 0.3}, {0.0, 101}},
      {"smallest decides", {2, 5, 60, false, 0.0}, {0.0, 0}},
      {"largest decides", {1, 5, 60, false, 0.0}, {0.0, 59}},
      {"nothing valid", {2, 4, 30, false, 1.0}, {0.7, 10}},
      {"one valid", {1, 3, 1, false, 0.0}, {0.7, 10}},
      {"NaN logit", {2, 4, 40, false, 0.0}, {0.7, 79}, true},
      {"NaN logit below k", {2, 4, 40, false, 0.0}, {0.7, 3}, true},
  };
  uint64_t seed = 600;
  for (const OhemCase& c : cases) check_ohem(run, c, seed += 9);
}

ANN_TEST("loss", ohem_model_size) {
  if (run.small) return;
  const OhemOptions o{0.7, 100000};
  check_ohem(run, {"1/4 of the paper's batch", {2, 19, 769 * 769, false, 0.1}, o}, 5);
  const CrossEntropyShape s{8, 19, 769 * 769, 255};
  const int64_t P = s.pixels(), total = P * s.classes;
  DeviceFloats x(uniform(total, 1, -3.f, 3.f)), dx(total);
  DeviceInts t(labels(P, s.classes, 0.1, 255, 2));
  OhemResult res;
  const std::string at = "ohem 8x19x769x769";
  run.time(
      at + " forward", [&] { res = cuda::ohem_cross_entropy_forward(s, o, x.data(), t.data(), nullptr); },
      4.0 * total);
  const OhemSelection sel = res;
  run.time(
      at + " backward (known selection)",
      [&] { cuda::ohem_cross_entropy_backward(s, o, 1.f, x.data(), t.data(), nullptr, dx.data(), &sel); },
      8.0 * total);
  run.time(
      at + " cross-entropy mean forward",
      [&] { cuda::cross_entropy_forward(s, x.data(), t.data(), nullptr, Reduction::Mean, dx.data()); },
      4.0 * total);
}

}  // namespace
}  // namespace ann::tests
