// Run-time SIMD dispatch for hot loops: prebuilt binaries must run on any x86-64, so instead of
// -march flags a function is compiled for AVX-512, AVX2 and the baseline, and the loader picks one.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ANN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ANN_CLONES
#endif
#define ANN_INLINE inline __attribute__((always_inline))
