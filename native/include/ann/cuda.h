// The CUDA backend as the bindings see it: the contract between native/napi and native/cuda.
//
// It exists in a build with ANN_WITH_CUDA: the real one (nvcc, sm_80/sm_90, static cudart,
// cuBLAS loaded at run time) or the emulated one (ANN_CUDA_EMULATE: the same .cu sources compiled
// as host C++ under native/cuda/emu, with a CPU stand-in for cuBLAS), so CI runs every CUDA kernel.
//
// Kernels: for every kernel `ann::X` declared in include/ann/{attention,conv,elementwise,interp,
// loss,norm,optim,pool}.h there is `ann::cuda::X` with the same parameters, every pointer a
// device pointer, run in order on the backend's one stream. Pure shape arithmetic
// (pool_output_size, pyramid_total, broadcast_shapes) has no CUDA twin. A kernel that returns a
// value computed from tensor data (find_bad_target) computes it on the device and copies back
// only that value. Errors are ann::Error whose message names the op and, for CUDA failures,
// carries cudaGetErrorString.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "ann/memory.h"

namespace ann::cuda {

// Whether CUDA tensors can be made now. When not, *why says why in one line, without parentheses
// (info().cuda wraps it in some: "no NVIDIA driver, libcuda.so.1 not found: ...", "cudaGetDeviceCount: no
// CUDA-capable device is detected", ...).
// Safe to call any number of times, from a build or machine without a GPU.
bool available(std::string* why);

// "NVIDIA H200, sm_90, 139.8 GiB, driver 13.0, runtime 13.0, cuBLAS 13.1.0 (TF32 off)" or, in
// the emulated build, "emulated on the CPU (N threads)". Only when available().
std::string describe();

// Device memory through a caching allocator (freed blocks are reused; no cudaMalloc per op).
// Out of memory throws ann::Error naming the bytes requested and the device.
void* device_alloc(size_t bytes);
void device_free(void* ptr, size_t bytes);
MemoryStats device_memory_stats();
void device_empty_cache();
void device_reset_peak();

// Copies in stream order; the device-to-host one returns once the data is on the host.
void copy_to_device(void* dst, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* src, size_t bytes);
void copy_on_device(void* dst, const void* src, size_t bytes);

// Waits for the stream; a failure of any kernel queued before is reported here, named by op.
void synchronize(const char* op);

// TF32 tensor-core math for the cuBLAS GEMMs (CUBLAS_TF32_TENSOR_OP_MATH on the handle before the next
// call; off by default; ANN_SEG_TF32=1 at start-up). The fused attention and pooling kernels stay in
// float32: their products are a few percent of the work (DESIGN.md), and an mma path the emulator
// cannot run would go unchecked.
void set_tf32(bool on);
bool tf32();

}  // namespace ann::cuda
