// A fixed pool of worker threads shared by every CPU kernel. Nested calls run inline, so a
// kernel may call parallel_for (or gemm) from inside another parallel_for without oversubscribing.
#pragma once
#include <cstdint>
#include <functional>

namespace ann {

int num_threads();
// Changes the pool size (1..256); takes effect for the next parallel_for.
void set_num_threads(int n);

// Splits [0, n) into at most num_threads() contiguous chunks of at least `grain` items and
// runs fn(begin, end) on each; returns when all are done. Exceptions propagate to the caller.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Which chunk the current thread is running (0 on the caller); for per-thread partial sums.
bool in_parallel_region();

}  // namespace ann
