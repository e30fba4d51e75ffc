// native/tests: every registered check, as one JSON report on stdout; exit status 1 when any fails.
// Usage: ann_cuda_tests [--full] [--time] [--filter SUBSTRING]
//   --full  the paper's sizes as well as the parity shapes; --time  time each kernel (on a GPU).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "ann/cuda.h"
#include "harness.h"

namespace ann::tests {

struct Entry {
  const char* family;
  const char* name;
  TestFn fn;
};

std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}

Registrar::Registrar(const char* family, const char* name, TestFn fn) {
  registry().push_back({family, name, fn});
}

namespace {

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

}  // namespace
}  // namespace ann::tests

int main(int argc, char** argv) {
  using namespace ann::tests;
  bool full = false, timed = false;
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--full"))
      full = true;
    else if (!std::strcmp(argv[i], "--time"))
      timed = true;
    else if (!std::strcmp(argv[i], "--filter") && i + 1 < argc)
      filter = argv[++i];
    else {
      std::fprintf(stderr, "ann_cuda_tests: unknown argument '%s' (expected --full, --time, --filter S)\n",
                   argv[i]);
      return 2;
    }
  }
  std::string why;
  if (!ann::cuda::available(&why)) {
    std::printf("{\"available\": false, \"why\": %s}\n", json_str(why).c_str());
    return 1;
  }
  const char* reverse = std::getenv("ANN_CUDA_EMU_REVERSE");
  std::printf("{\"device\": %s,\n \"emulated\": %s, \"reverse_blocks\": %s, \"full\": %s,\n \"results\": [\n",
              json_str(ann::cuda::describe()).c_str(),
#if defined(ANN_CUDA_EMULATE)
              "true",
#else
              "false",
#endif
              reverse && reverse[0] == '1' ? "true" : "false", full ? "true" : "false");
  int passed = 0, failed = 0;
  bool first = true;
  for (const Entry& e : registry()) {
    const std::string id = std::string(e.family) + "/" + e.name;
    if (!filter.empty() && id.find(filter) == std::string::npos) continue;
    Run run;
    run.small = !full;
    run.timed = timed;
    try {
      e.fn(run);
    } catch (const std::exception& ex) {
      run.expect(false, std::string("threw: ") + ex.what());
    }
    run.failures ? ++failed : ++passed;
    std::printf("%s  {\"test\": %s, \"ok\": %s", first ? "" : ",\n", json_str(id).c_str(),
                run.failures ? "false" : "true");
    first = false;
    if (!run.notes.empty()) {
      std::printf(", \"failures\": [");
      for (size_t i = 0; i < run.notes.size(); ++i)
        std::printf("%s%s", i ? ", " : "", json_str(run.notes[i]).c_str());
      std::printf("]");
    }
    if (!run.timings.empty()) {
      std::printf(", \"timings\": [");
      for (size_t i = 0; i < run.timings.size(); ++i) {
        const Timing& t = run.timings[i];
        std::printf("%s{\"label\": %s, \"ms\": %.5f, \"GBps\": %.1f, \"GFLOPs\": %.1f}", i ? ", " : "",
                    json_str(t.label).c_str(), t.ms, t.gbps, t.gflops);
      }
      std::printf("]");
    }
    std::printf("}");
    if (run.failures) std::fprintf(stderr, "FAIL %s: %s\n", id.c_str(), run.notes[0].c_str());
  }
  std::printf("\n ],\n \"passed\": %d, \"failed\": %d}\n", passed, failed);
  return failed ? 1 : 0;
}
