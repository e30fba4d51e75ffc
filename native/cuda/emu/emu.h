// The CUDA execution model on the CPU, so the .cu sources compile as host C++ (g++ -x c++ with
// ANN_CUDA_EMULATE) and CI runs every CUDA kernel without a GPU. Included only through runtime.h.
//
// A launch runs to completion before it returns (every stream is synchronous). The blocks of a
// grid are spread over the CPU pool (one OS thread per core); the threads of a block run as fibers
// on that OS thread, switched only at barriers and warp operations, so:
// - `__shared__` is `static thread_local`: the fibers of a block share it, other blocks have their own;
// - __syncthreads is a counting barrier; threads that reach different barriers, or exit while others
//   wait, or warps that wait on each other, end the launch with an ann::Error naming the kernel;
// - shuffles, votes and __syncwarp are rendezvous of the 32 lanes (full masks only);
// - atomics are real atomics, since blocks do run at the same time.
// Device memory is host memory filled with NaN when fresh, so a missing write shows, and
// ANN_CUDA_EMU_REVERSE=1 runs blocks in reverse order, so a dependence on block order shows.
#pragma once

#if !defined(__x86_64__)
#error "the CUDA emulator's fiber switch is written for x86-64"
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// --- the language ---
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __constant__
#define __align__(n) alignas(n)

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
constexpr int warpSize = 32;

namespace ann::emu {

// What the running CUDA thread sees; one per OS thread, pointed at the fiber being run.
struct Fiber;
struct Context {
  const Fiber* fiber = nullptr;
  const uint3* thread_idx = nullptr;
  uint3 block_idx{0, 0, 0};
  dim3 block_dim, grid_dim;
  unsigned char* dynamic_shared = nullptr;
};
extern thread_local Context ctx;

struct LaunchSpec {
  const char* op;
  const char* kernel;
  dim3 grid, block;
  size_t shared_bytes;
};
// Runs body(arg) once per CUDA thread of the grid; throws ann::Error "op: kernel: ..." on a bad
// configuration, a divergent barrier, a deadlock, or an exception thrown by a thread.
void launch(const LaunchSpec& spec, void (*body)(void*), void* arg);

template <class F>
void launch_fn(const LaunchSpec& spec, F&& f) {
  using Fn = std::remove_reference_t<F>;
  launch(
      spec, [](void* p) { (*static_cast<Fn*>(p))(); }, &f);
}

// Warp rendezvous: every lane of the warp puts `bits`, waits for all, and gets lane `src`'s bits
// (or, for votes, all of them in `all`). `what` names the op, so lanes in different ops are caught.
uint64_t warp_exchange(const char* what, uint64_t bits, int src, uint64_t* all = nullptr);
int lane_id();
unsigned warp_mask();  // the lanes that exist in this thread's warp

template <class T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
void check_mask(const char* what, unsigned mask);

// Atomic read-modify-write on plain memory (std::atomic_ref's semantics, through the builtins
// it is made of, so the build stays C++17).
template <class T, class F>
T atomic_update(T* addr, F f) {
  T old = __atomic_load_n(addr, __ATOMIC_RELAXED);
  T next;
  do {
    next = f(old);
  } while (!__atomic_compare_exchange(addr, &old, &next, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return old;
}
template <class T>
T atomic_float_update(T* addr, T v, int kind) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U* u = reinterpret_cast<U*>(addr);
  return from_bits<T>(atomic_update(u, [&](U old) {
    const T o = from_bits<T>(old);
    const T n = kind == 0 ? o + v : kind == 1 ? (o < v ? v : o) : (v < o ? v : o);
    return static_cast<U>(to_bits(n));
  }));
}

}  // namespace ann::emu

#define threadIdx (*::ann::emu::ctx.thread_idx)
#define blockIdx (::ann::emu::ctx.block_idx)
#define blockDim (::ann::emu::ctx.block_dim)
#define gridDim (::ann::emu::ctx.grid_dim)

#define ANN_EMU_LAUNCH(op, kernel, grid, block, shmem, stream, ...)                             \
  do {                                                                                          \
    (void)(stream);                                                                             \
    ::ann::emu::launch_fn({(op), #kernel, dim3(grid), dim3(block), static_cast<size_t>(shmem)}, \
                          [&]() { kernel(__VA_ARGS__); });                                      \
  } while (0)
#define ANN_EMU_DYNAMIC_SHARED(T) reinterpret_cast<T*>(::ann::emu::ctx.dynamic_shared)

// --- barriers, warps, votes ---
void __syncthreads();
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::ann::emu::check_mask("__syncwarp", mask);
  ::ann::emu::warp_exchange("__syncwarp", 0, 0);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  ::ann::emu::check_mask("__shfl_sync", mask);
  const int lane = ::ann::emu::lane_id();
  const int from = (lane / width) * width + (src % width + width) % width;
  return ::ann::emu::from_bits<T>(::ann::emu::warp_exchange("__shfl_sync", ::ann::emu::to_bits(v), from));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  ::ann::emu::check_mask("__shfl_xor_sync", mask);
  const int lane = ::ann::emu::lane_id();
  int from = lane ^ lane_mask;
  if (from >= (lane / width + 1) * width || from >= 32) from = lane;  // later groups: own value
  return ::ann::emu::from_bits<T>(::ann::emu::warp_exchange("__shfl_xor_sync", ::ann::emu::to_bits(v), from));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  ::ann::emu::check_mask("__shfl_down_sync", mask);
  const int lane = ::ann::emu::lane_id();
  const int from = lane % width + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane;
  return ::ann::emu::from_bits<T>(
      ::ann::emu::warp_exchange("__shfl_down_sync", ::ann::emu::to_bits(v), from));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  ::ann::emu::check_mask("__shfl_up_sync", mask);
  const int lane = ::ann::emu::lane_id();
  const int from = lane % width >= static_cast<int>(delta) ? lane - static_cast<int>(delta) : lane;
  return ::ann::emu::from_bits<T>(::ann::emu::warp_exchange("__shfl_up_sync", ::ann::emu::to_bits(v), from));
}
unsigned __ballot_sync(unsigned mask, int predicate);
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) == ::ann::emu::warp_mask();
}
inline unsigned __activemask() { return ::ann::emu::warp_mask(); }

// --- atomics ---
inline float atomicAdd(float* a, float v) { return ::ann::emu::atomic_float_update(a, v, 0); }
inline double atomicAdd(double* a, double v) { return ::ann::emu::atomic_float_update(a, v, 0); }
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);
}
inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
template <class T>
T atomicMax(T* a, T v) {
  static_assert(std::is_integral_v<T>, "atomicMax: integer types (CUDA has no float atomicMax)");
  return ::ann::emu::atomic_update(a, [v](T o) { return o < v ? v : o; });
}
template <class T>
T atomicMin(T* a, T v) {
  static_assert(std::is_integral_v<T>, "atomicMin: integer types (CUDA has no float atomicMin)");
  return ::ann::emu::atomic_update(a, [v](T o) { return v < o ? v : o; });
}
template <class T>
T atomicCAS(T* a, T compare, T v) {
  __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value either way
}
template <class T>
T atomicExch(T* a, T v) {
  T old;
  __atomic_exchange(a, &v, &old, __ATOMIC_SEQ_CST);
  return old;
}
template <class T>
T atomicOr(T* a, T v) {
  return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);
}
template <class T>
T atomicAnd(T* a, T v) {
  return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);
}

// --- math builtins: the fast intrinsics map to the exact functions ---
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }
inline float __exp10f(float x) { return std::pow(10.f, x); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(std::floor(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(std::ceil(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline int __float_as_int(float x) { return ::ann::emu::from_bits<int>(::ann::emu::to_bits(x)); }
inline unsigned __float_as_uint(float x) { return ::ann::emu::from_bits<unsigned>(::ann::emu::to_bits(x)); }
inline float __int_as_float(int x) { return ::ann::emu::from_bits<float>(::ann::emu::to_bits(x)); }
inline float __uint_as_float(unsigned x) { return ::ann::emu::from_bits<float>(::ann::emu::to_bits(x)); }
inline long long __double_as_longlong(double x) {
  return ::ann::emu::from_bits<long long>(::ann::emu::to_bits(x));
}
inline double __longlong_as_double(long long x) {
  return ::ann::emu::from_bits<double>(::ann::emu::to_bits(x));
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
template <class T>
T __ldg(const T* p) {
  return *p;
}
// CUDA's global min/max overloads for device code.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a < b ? b : a; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a < b ? b : a; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a < b ? b : a; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a < b ? b : a; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

#include "runtime_api.h"  // cudaMalloc, streams, events, ... (the subset the backend uses)
