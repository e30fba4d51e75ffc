// The harness's checks, timing, device buffers and the report.
#include "harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "../cuda/runtime.h"
#include "ann/cuda.h"

namespace ann::tests {

namespace {
std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
}  // namespace

void Run::expect(bool ok, const std::string& what) {
  if (ok) return;
  ++failures;
  notes.push_back(what);
}

void Run::expect_same(const std::string& what, const float* got, const float* want, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    if (a == b || (std::isnan(got[i]) && std::isnan(want[i]))) continue;
    expect(false, what + ": element " + std::to_string(i) + " of " + std::to_string(n) + " is " +
                      fmt(got[i]) + ", the CPU kernel's is " + fmt(want[i]));
    return;
  }
}

void Run::expect_close(const std::string& what, const float* got, const float* want, int64_t n, double atol,
                       double rtol) {
  int64_t worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    const double d = std::fabs(double(got[i]) - double(want[i]));
    const double allowed = atol + rtol * std::fabs(double(want[i]));
    if (!(d <= allowed) && (worst < 0 || d - allowed > worst_excess)) {
      worst = i;
      worst_excess = d - allowed;
    }
  }
  if (worst >= 0)
    expect(false, what + ": element " + std::to_string(worst) + " of " + std::to_string(n) + " is " +
                      fmt(got[worst]) + ", the CPU kernel's is " + fmt(want[worst]) + " (atol " + fmt(atol) +
                      ", rtol " + fmt(rtol) + ")");
}

void Run::time(const std::string& label, const std::function<void()>& fn, double bytes, double flops,
               int warm, int reps) {
  if (!timed) return;
  for (int i = 0; i < warm; ++i) fn();
  cudaEvent_t a, b;
  ANN_CUDA_CHECK("tests", cudaEventCreate(&a));
  ANN_CUDA_CHECK("tests", cudaEventCreate(&b));
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    ANN_CUDA_CHECK("tests", cudaEventRecord(a, cuda::stream()));
    fn();
    ANN_CUDA_CHECK("tests", cudaEventRecord(b, cuda::stream()));
    ANN_CUDA_CHECK("tests", cudaEventSynchronize(b));
    float t = 0;
    ANN_CUDA_CHECK("tests", cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  timings.push_back({label, med, bytes > 0 ? bytes / med / 1e6 : 0, flops > 0 ? flops / med / 1e9 : 0});
}

std::vector<float> uniform(int64_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& x : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x = lo + (hi - lo) * static_cast<float>((s >> 40) * 0x1.0p-24);
  }
  return v;
}

DeviceFloats::DeviceFloats(int64_t n)
    : n_(n), ptr_(static_cast<float*>(cuda::device_alloc(static_cast<size_t>(n) * 4))) {}
DeviceFloats::DeviceFloats(const std::vector<float>& host) : DeviceFloats(static_cast<int64_t>(host.size())) {
  cuda::copy_to_device(ptr_, host.data(), host.size() * 4);
}
DeviceFloats::~DeviceFloats() { cuda::device_free(ptr_, static_cast<size_t>(n_) * 4); }
std::vector<float> DeviceFloats::host() const {
  std::vector<float> v(static_cast<size_t>(n_));
  cuda::copy_to_host(v.data(), ptr_, v.size() * 4);
  return v;
}

}  // namespace ann::tests
