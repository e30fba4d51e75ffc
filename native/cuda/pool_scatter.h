// The deterministic scatter shared by the pyramid max backward (pool.cu) and the gather
// backward (pool_sample.cu).
#pragma once
#include <cstdint>

namespace ann::cuda {

// dx [planes, hw] = 0, then each plane's s values of dy [planes, s] added at int32 positions in
// [0, hw): plane p reads the s positions at positions + (p / per) * s. A position receives the
// sum of its entries in entry order (the CPU kernel's order and bits): its first entry sums the
// later duplicates, so no two writes collide and no atomics are needed.
void scatter_planes(const char* op, const float* dy, const int32_t* positions, float* dx, int64_t planes,
                    int64_t hw, int64_t s, int64_t per);

}  // namespace ann::cuda
