// The SIMD level of the dispatched kernels (ann/simd.h): the CPU's best, or ANN_SEG_SIMD's choice.
#include "simd.h"

#include <cstdlib>

namespace ann::simd {
namespace {

std::vector<Level> cpu_levels() {
#ifdef ANN_SIMD_X86
  __builtin_cpu_init();  // this may run in a static initialiser, before libgcc's own
  std::vector<Level> v{Level::Baseline};
  if (__builtin_cpu_supports("avx2")) v.push_back(Level::Avx2);
  if (__builtin_cpu_supports("avx512f")) v.push_back(Level::Avx512);
  return v;
#else
  return {Level::Baseline};
#endif
}

std::string error_message;

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

Level select() {
  const std::vector<Level> have = cpu_levels();
  const char* env = std::getenv("ANN_SEG_SIMD");
  if (!env || !*env) return have.back();
  const std::string want = env;
  for (Level l : {Level::Baseline, Level::Avx2, Level::Avx512}) {
    if (want != level_name(l)) continue;
    for (Level h : have)
      if (h == l) return l;
    error_message = "ANN_SEG_SIMD=" + want + ": this CPU does not support " + want +
                    " (its levels: " + joined(supported_levels()) + ")";
    return have.back();
  }
  error_message = "ANN_SEG_SIMD=" + want +
                  ": unknown SIMD level (this CPU's levels: " + joined(supported_levels()) +
                  "; unset it for the best)";
  return have.back();
}

}  // namespace

namespace detail {
Level current = select();
}

const char* level_name(Level l) {
#ifdef ANN_SIMD_X86
  switch (l) {
    case Level::Avx512:
      return "avx512";
    case Level::Avx2:
      return "avx2";
    default:
      return "sse2";
  }
#else
  (void)l;
  return "generic";
#endif
}

std::vector<std::string> supported_levels() {
  std::vector<std::string> names;
  for (Level l : cpu_levels()) names.push_back(level_name(l));
  return names;
}

const std::string& selection_error() { return error_message; }

}  // namespace ann::simd
