// Storage and copies on either device: the one place the bindings reach the host allocator or the
// CUDA backend's memory, so a build without ANN_WITH_CUDA refuses CUDA tensors here and nowhere else.
#pragma once
#include <cstddef>
#include <string>

#include "ann/common.h"
#include "ann/memory.h"

namespace ann::napi {

// "cpu" or "cuda", else "op: unknown device 'x' (expected 'cpu' or 'cuda')".
Device parse_device(const std::string& name, const char* op);

// Whether tensors can be made on the device; when not, *why says why in one line.
bool device_usable(Device d, std::string* why);
// Throws "op: cuda: unavailable (reason)" unless device_usable(d).
void require_device(Device d, const char* op);

// Storage from the device's caching allocator (require_device first).
void* storage_alloc(Device d, size_t bytes);
void storage_free(Device d, void* ptr, size_t bytes);

// bytes from src on src_dev to dst on dst_dev (any of the four directions); returns once dst holds them.
void copy_bytes(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);

MemoryStats memory_stats(Device d);
void empty_cache(Device d);
void reset_peak(Device d);

// Waits for the device's queued work (a no-op on the CPU and where CUDA is unusable); a failure of a
// kernel queued before is reported here, named by op.
void device_synchronize(Device d, const char* op);

// TF32 tensor-core math for the cuBLAS GEMMs: set_tf32 needs a usable CUDA device (require_device),
// tf32() is false where there is none.
void set_tf32(bool on, const char* op);
bool tf32();

// info().cuda: the backend's description, or "unavailable (reason)".
std::string cuda_summary();

}  // namespace ann::napi
