// The native/tests harness: each file registers checks of one kernel family with ANN_TEST; main.cpp
// runs them (optionally filtered) and prints one JSON report. A check compares a CUDA kernel with
// the CPU kernel on the same inputs and, on a GPU, times it with events after a warm-up.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ann::tests {

struct Timing {
  std::string label;
  double ms;          // median of the timed runs
  double gbps = 0;    // bytes moved / time, when the check says how many
  double gflops = 0;  // when it says how many flops
};

class Run {
 public:
  // Small shapes only (the emulator, CI); the paper's sizes too when false.
  bool small = true;
  bool timed = false;  // on a GPU: time the kernels
  int failures = 0;
  std::vector<std::string> notes;
  std::vector<Timing> timings;

  void expect(bool ok, const std::string& what);
  // Bit-identical float32 (NaNs equal when both NaN).
  void expect_same(const std::string& what, const float* got, const float* want, int64_t n);
  // |got - want| <= atol + rtol * |want| everywhere; reports the worst element.
  void expect_close(const std::string& what, const float* got, const float* want, int64_t n, double atol,
                    double rtol);
  // Runs fn warm times, then reps times between events; records the median.
  void time(const std::string& label, const std::function<void()>& fn, double bytes = 0, double flops = 0,
            int warm = 3, int reps = 10);
};

using TestFn = void (*)(Run&);
struct Registrar {
  Registrar(const char* family, const char* name, TestFn fn);
};

#define ANN_TEST(family, name)                                                        \
  static void ann_test_##name(::ann::tests::Run&);                                    \
  static ::ann::tests::Registrar ann_test_reg_##name(family, #name, ann_test_##name); \
  static void ann_test_##name(::ann::tests::Run& run)

// Deterministic inputs: uniform in [lo, hi) from a seed.
std::vector<float> uniform(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f);

// Device buffers that copy in and out (through the backend's allocator).
class DeviceFloats {
 public:
  explicit DeviceFloats(int64_t n);
  explicit DeviceFloats(const std::vector<float>& host);
  ~DeviceFloats();
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  float* data() const { return ptr_; }
  int64_t size() const { return n_; }
  std::vector<float> host() const;

 private:
  int64_t n_;
  float* ptr_;
};

}  // namespace ann::tests
