#include "alloc.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ann/common.h"

namespace ann {
namespace {

// Sizes are rounded to bins so a freed block serves later requests of similar size; above 1 MiB
// bins are eighths of a power of two, bounding the waste at 12.5%.
size_t bin_size(size_t bytes) {
  if (bytes <= 64) return 64;
  if (bytes <= (1u << 20)) {
    size_t p = 64;
    while (p < bytes) p <<= 1;
    return p;
  }
  size_t p = 1u << 20;
  while (p < bytes) p <<= 1;
  const size_t step = p / 16;  // p/2 < bytes <= p: steps of p/16 are eighths of p/2
  return (bytes + step - 1) / step * step;
}

size_t cache_limit() {
  const char* env = std::getenv("ANN_SEG_CACHE_LIMIT_MB");
  if (env) return static_cast<size_t>(std::strtoull(env, nullptr, 10)) << 20;
  return size_t(4) << 30;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  MemoryStats stats;
  size_t limit = cache_limit();

  void release_all_locked() {
    for (auto& kv : free_lists)
      for (void* p : kv.second) std::free(p);
    free_lists.clear();
    stats.cached_bytes = 0;
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may be freed during process exit
  return *c;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t size = bin_size(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  void* p = nullptr;
  auto it = c.free_lists.find(size);
  if (it != c.free_lists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.stats.cached_bytes -= static_cast<int64_t>(size);
  } else {
    p = std::aligned_alloc(64, size);
    if (!p) {
      c.release_all_locked();
      p = std::aligned_alloc(64, size);
    }
    if (!p) throw Error("out of memory: could not allocate " + std::to_string(bytes) + " bytes on cpu");
  }
  c.stats.live_blocks += 1;
  c.stats.live_bytes += static_cast<int64_t>(bytes);
  if (c.stats.live_bytes > c.stats.peak_bytes) c.stats.peak_bytes = c.stats.live_bytes;
  return p;
}

void host_free(void* ptr, size_t bytes) {
  if (!ptr) return;
  const size_t size = bin_size(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.live_blocks -= 1;
  c.stats.live_bytes -= static_cast<int64_t>(bytes);
  if (static_cast<size_t>(c.stats.cached_bytes) + size > c.limit) {
    std::free(ptr);
    return;
  }
  c.free_lists[size].push_back(ptr);
  c.stats.cached_bytes += static_cast<int64_t>(size);
}

MemoryStats host_memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void host_reset_peak() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_bytes = c.stats.live_bytes;
}

void host_empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.release_all_locked();
}

}  // namespace ann
