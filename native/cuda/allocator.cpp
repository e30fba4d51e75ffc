// The caching device allocator: a freed block goes to the free list of its size bin and the next
// request of that bin takes it, so a training step calls cudaMalloc only while the cache warms.
// Reuse is safe without events because there is one stream: a block freed after a kernel was
// queued is handed to work queued after that kernel.
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ann/cuda.h"
#include "runtime.h"

namespace ann::cuda {

std::string device_label();  // device.cpp: "cuda:0 (NVIDIA H200)"

namespace {

// Small requests round to 512 B, large ones to 2 MiB, so nearby sizes share a bin and the waste
// stays under 2 MiB a block.
size_t bin_of(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20, kSmallLimit = size_t{1} << 20;
  if (bytes <= kSmallLimit) return bytes == 0 ? kSmall : (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;
  MemoryStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: blocks may be freed during process exit
  return *c;
}

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024));
  return buf;
}

// Frees every cached block; the caller holds the lock.
void release_cached(Cache& c) {
  for (auto& [bin, list] : c.free)
    for (void* p : list) cudaFree(p);
  c.free.clear();
  c.stats.cached_bytes = 0;
}

void fill_nan(void* p, size_t bytes) {
#if defined(ANN_CUDA_EMULATE)
  // A reused block holds the last user's numbers; NaN again, so a missing write still shows.
  auto* w = static_cast<uint32_t*>(p);
  for (size_t i = 0; i < bytes / 4; ++i) w[i] = 0x7fc00000u;
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace

void* device_alloc(size_t bytes) {
  Cache& c = cache();
  const size_t bin = bin_of(bytes);
  std::lock_guard<std::mutex> lock(c.mu);
  void* p = nullptr;
  auto it = c.free.find(bin);
  if (it != c.free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.stats.cached_bytes -= static_cast<int64_t>(bin);
    fill_nan(p, bin);
  } else {
    stream();  // throws when CUDA is unavailable, naming why
    cudaError_t e = cudaMalloc(&p, bin);
    if (e == cudaErrorMemoryAllocation && c.stats.cached_bytes > 0) {
      cudaGetLastError();
      cudaStreamSynchronize(stream());
      release_cached(c);
      e = cudaMalloc(&p, bin);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      throw Error("cuda: out of memory: cannot allocate " + std::to_string(bytes) + " bytes (" + mib(bytes) +
                  ") on " + device_label() + ": " + cudaGetErrorString(e) + "; " + mib(free_b) + " free of " +
                  mib(total_b) + ", " + mib(static_cast<size_t>(c.stats.live_bytes)) + " in live tensors");
    }
  }
  c.stats.live_blocks += 1;
  c.stats.live_bytes += static_cast<int64_t>(bytes);
  if (c.stats.live_bytes > c.stats.peak_bytes) c.stats.peak_bytes = c.stats.live_bytes;
  return p;
}

void device_free(void* ptr, size_t bytes) {
  if (!ptr) return;
  Cache& c = cache();
  const size_t bin = bin_of(bytes);
  std::lock_guard<std::mutex> lock(c.mu);
  c.free[bin].push_back(ptr);
  c.stats.cached_bytes += static_cast<int64_t>(bin);
  c.stats.live_blocks -= 1;
  c.stats.live_bytes -= static_cast<int64_t>(bytes);
}

MemoryStats device_memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void device_empty_cache() {
  std::string why;
  if (!available(&why)) return;
  synchronize("device_empty_cache");  // no queued kernel may still use a block about to be freed
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  release_cached(c);
}

void device_reset_peak() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_bytes = c.stats.live_bytes;
}

}  // namespace ann::cuda
