// What every CUDA kernel file includes, and the only place that knows whether it is being built by
// nvcc for a GPU or as host C++ under the emulator (ANN_CUDA_EMULATE, native/cuda/emu/), so one .cu
// source serves both. Kernels written against it keep to these rules, which the emulator needs:
// - launch only through ANN_LAUNCH (g++ cannot parse <<< >>>);
// - dynamic shared memory only through ANN_DYNAMIC_SHARED; static __shared__ arrays as usual;
// - no inline PTX; tensor-core (mma/wmma), cp.async and cooperative-groups code only under
//   `#if defined(__CUDA_ARCH__)`, beside a SIMT path the emulator runs;
// - warp primitives with full masks (__shfl_xor_sync(0xffffffff, ...)), blocks a multiple of 32;
// - scratch memory through ann::cuda::Buffer (the caching allocator), never cudaMalloc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "ann/common.h"
#include "ann/cuda.h"

#if defined(ANN_CUDA_EMULATE)
#include "emu/emu.h"  // dim3, threadIdx..., __syncthreads, shuffles, atomics, the runtime API subset
#else
#include <cuda_runtime.h>
#endif

namespace ann::cuda {

// The backend's one stream: every kernel, copy and cuBLAS call is queued on it, in order.
cudaStream_t stream();

// Throws ann::Error "op: what: cudaGetErrorString(err)" unless err is cudaSuccess.
void check(cudaError_t err, const char* op, const char* what);

// Grid size for n items at `per_block` items a block, clamped to what a launch allows.
inline unsigned blocks_for(int64_t n, int64_t per_block) {
  int64_t b = (n + per_block - 1) / per_block;
  if (b < 1) b = 1;
  if (b > 0x7fffffff) b = 0x7fffffff;
  return static_cast<unsigned>(b);
}

// Grid size for a grid-stride loop over n items: enough blocks to fill the GPU, and few enough
// under the emulator that each fiber loops over many items (a fiber costs more than an item there).
inline unsigned stride_blocks(int64_t n, int64_t threads) {
#if defined(ANN_CUDA_EMULATE)
  constexpr int64_t kMax = 64;
#else
  constexpr int64_t kMax = 8192;
#endif
  const unsigned b = blocks_for(n, threads);
  return b > kMax ? static_cast<unsigned>(kMax) : b;
}

// RAII device scratch from the caching allocator (the device twin of ann::Buffer).
template <typename T>
class Buffer {
 public:
  Buffer() = default;
  // An empty buffer allocates nothing (data() is null).
  explicit Buffer(size_t count)
      : count_(count), ptr_(count ? static_cast<T*>(device_alloc(count * sizeof(T))) : nullptr) {}
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* data() const { return ptr_; }
  size_t size() const { return count_; }
  void reset() {
    if (ptr_) device_free(ptr_, count_ * sizeof(T));
    ptr_ = nullptr;
    count_ = 0;
  }

 private:
  size_t count_ = 0;
  T* ptr_ = nullptr;
};

}  // namespace ann::cuda

#if defined(ANN_CUDA_EMULATE)
// emu.h defines ANN_EMU_LAUNCH and ANN_EMU_DYNAMIC_SHARED.
#define ANN_LAUNCH(op, kernel, grid, block, shmem, ...) \
  ANN_EMU_LAUNCH(op, kernel, grid, block, shmem, ::ann::cuda::stream(), __VA_ARGS__)
#define ANN_DYNAMIC_SHARED(T, name) T* name = ANN_EMU_DYNAMIC_SHARED(T)
#else
#define ANN_LAUNCH(op, kernel, grid, block, shmem, ...)                       \
  do {                                                                        \
    kernel<<<(grid), (block), (shmem), ::ann::cuda::stream()>>>(__VA_ARGS__); \
    ::ann::cuda::check(cudaGetLastError(), (op), "launch of " #kernel);       \
  } while (0)
#define ANN_DYNAMIC_SHARED(T, name)                      \
  extern __shared__ unsigned char ann_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(ann_dynamic_shared_)
#endif

// cudaX(...) checked, named by the op: ANN_CUDA_CHECK("conv2d", cudaMemsetAsync(...)).
#define ANN_CUDA_CHECK(op, call) ::ann::cuda::check((call), (op), #call)
