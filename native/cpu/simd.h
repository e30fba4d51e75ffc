// Run-time SIMD dispatch for hot loops. Prebuilt binaries must run on any x86-64, so instead of
// -march flags a kernel's body is compiled once per level (AVX-512F, AVX2 and the x86-64 baseline,
// SSE2) and each call picks the level chosen at load time: the best this CPU has, or the one
// ANN_SEG_SIMD names (never above the CPU's), so tests and CI can run every path on one machine.
// (GCC's target_clones resolve by ifunc from the CPU alone, which no variable can steer.)
#pragma once
#include <string>
#include <vector>

#define ANN_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ANN_SIMD_X86 1
#endif

namespace ann::simd {

enum class Level { Baseline, Avx2, Avx512 };

namespace detail {
extern Level current;
}

// The level every dispatched kernel runs at.
inline Level level() { return detail::current; }

// Its name: "avx512", "avx2" or "sse2" (on other architectures "generic").
const char* level_name(Level l);

// The levels this CPU can run, lowest first (the values ANN_SEG_SIMD accepts).
std::vector<std::string> supported_levels();

// Empty when ANN_SEG_SIMD is unset or names a level this CPU has; else the message of the Error
// the addon throws when it loads (the kernels then run at the CPU's best level).
const std::string& selection_error();

}  // namespace ann::simd

// ANN_SIMD_KERNEL(void, name, (params...), (args...)) after an ANN_INLINE `name##_impl` with those
// params defines `name`, which calls the impl compiled for the selected level. The impl and the
// helpers it inlines take the target of the variant they are inlined into.
#ifdef ANN_SIMD_X86
#define ANN_SIMD_KERNEL(ret, name, params, args)                                                  \
  __attribute__((target("avx512f"))) static ret name##_avx512 params { return name##_impl args; } \
  __attribute__((target("avx2"))) static ret name##_avx2 params { return name##_impl args; }      \
  static ret name##_sse2 params { return name##_impl args; }                                      \
  ret name params {                                                                               \
    switch (::ann::simd::level()) {                                                               \
      case ::ann::simd::Level::Avx512:                                                            \
        return name##_avx512 args;                                                                \
      case ::ann::simd::Level::Avx2:                                                              \
        return name##_avx2 args;                                                                  \
      default:                                                                                    \
        return name##_sse2 args;                                                                  \
    }                                                                                             \
  }
#else
#define ANN_SIMD_KERNEL(ret, name, params, args) \
  ret name params { return name##_impl args; }
#endif
