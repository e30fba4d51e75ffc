// Caching host allocator: freed blocks go back to size-binned free lists instead of the OS,
// because fresh pages cost more than the kernels that fill them on large tensors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ann/memory.h"

namespace ann {

// 64-byte aligned; size 0 returns a valid unique pointer. Throws ann::Error when out of memory.
void* host_alloc(size_t bytes);
void host_free(void* ptr, size_t bytes);
MemoryStats host_memory_stats();
void host_empty_cache();
// Restarts the high-water mark at the bytes live now (to measure one piece of work).
void host_reset_peak();

// RAII scratch buffer for kernel workspaces, drawn from the same cache.
template <typename T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t count) : count_(count), ptr_(static_cast<T*>(host_alloc(count * sizeof(T)))) {}
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : count_(o.count_), ptr_(o.ptr_) {
    o.ptr_ = nullptr;
    o.count_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      count_ = o.count_;
      ptr_ = o.ptr_;
      o.ptr_ = nullptr;
      o.count_ = 0;
    }
    return *this;
  }
  T* data() const { return ptr_; }
  size_t size() const { return count_; }
  T& operator[](size_t i) const { return ptr_[i]; }
  void reset() {
    if (ptr_) host_free(ptr_, count_ * sizeof(T));
    ptr_ = nullptr;
    count_ = 0;
  }

 private:
  size_t count_ = 0;
  T* ptr_ = nullptr;
};

}  // namespace ann
