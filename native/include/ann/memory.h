// What an allocator reports, on either device (the host cache in cpu/alloc.h, the device cache in
// cuda.h), so memory() reads the same fields from both.
#pragma once
#include <cstdint>

namespace ann {

struct MemoryStats {
  int64_t live_blocks = 0;   // blocks handed out and not yet released
  int64_t live_bytes = 0;    // requested bytes of those blocks
  int64_t cached_bytes = 0;  // bytes held in free lists, ready for reuse
  int64_t peak_bytes = 0;    // high-water mark of live_bytes
};

}  // namespace ann
