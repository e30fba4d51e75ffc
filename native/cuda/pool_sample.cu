// Random anchor positions (the paper's Table 7 ablation) and the gather that reads features at
// them. The positions are drawn on the host by the CPU generator and uploaded: they are a few
// hundred integers, and the same seed then gives the same positions on both devices.
#include <vector>

#include "ann/pool.h"
#include "pool_scatter.h"
#include "runtime.h"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;
// Entries per plane up to which a block deduplicates them in shared memory (quadratic in s);
// beyond it one thread per plane adds them in order.
constexpr int64_t kSharedEntries = 2048;

__global__ void gather_forward_kernel(const float* x, const int32_t* positions, float* y, int64_t total,
                                      int64_t c, int64_t hw, int64_t s) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const int64_t p = t / s, k = t % s;
  y[t] = x[p * hw + positions[(p / c) * s + k]];
}

// One block per plane: zero it, then the first entry of each position writes the sum of that
// position's entries in entry order.
__global__ void scatter_shared_kernel(const float* dy, const int32_t* positions, float* dx, int64_t hw,
                                      int64_t s, int64_t per) {
  ANN_DYNAMIC_SHARED(int32_t, pos);
  float* g = reinterpret_cast<float*>(pos + s);
  const int64_t plane = blockIdx.x;
  const int32_t* pp = positions + (plane / per) * s;
  for (int64_t k = threadIdx.x; k < s; k += blockDim.x) {
    pos[k] = pp[k];
    g[k] = dy[plane * s + k];
  }
  float* d = dx + plane * hw;
  for (int64_t i = threadIdx.x; i < hw; i += blockDim.x) d[i] = 0.f;
  __syncthreads();  // the zeros are written before any sum lands on them
  for (int64_t k = threadIdx.x; k < s; k += blockDim.x) {
    const int32_t at = pos[k];
    bool first = true;
    for (int64_t j = 0; j < k && first; ++j) first = pos[j] != at;
    if (!first) continue;
    float sum = 0.f;
    for (int64_t j = k; j < s; ++j)
      if (pos[j] == at) sum += g[j];
    d[at] = sum;
  }
}

__global__ void zero_kernel(float* x, int64_t n) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) x[t] = 0.f;
}

__global__ void scatter_serial_kernel(const float* dy, const int32_t* positions, float* dx, int64_t planes,
                                      int64_t hw, int64_t s, int64_t per) {
  const int64_t plane = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (plane >= planes) return;
  const int32_t* pp = positions + (plane / per) * s;
  const float* g = dy + plane * s;
  float* d = dx + plane * hw;
  for (int64_t k = 0; k < s; ++k) d[pp[k]] += g[k];
}

}  // namespace

void scatter_planes(const char* op, const float* dy, const int32_t* positions, float* dx, int64_t planes,
                    int64_t hw, int64_t s, int64_t per) {
  if (s <= kSharedEntries) {
    ANN_LAUNCH(op, scatter_shared_kernel, blocks_for(planes, 1), kThreads, static_cast<size_t>(s) * 8, dy,
               positions, dx, hw, s, per);
    return;
  }
  ANN_LAUNCH(op, zero_kernel, blocks_for(planes * hw, kThreads), kThreads, 0, dx, planes * hw);
  ANN_LAUNCH(op, scatter_serial_kernel, blocks_for(planes, 64), 64, 0, dy, positions, dx, planes, hw, s, per);
}

void sample_pyramid_positions(int32_t* positions, int64_t batch, int64_t h, int64_t w,
                              const std::vector<int64_t>& sizes, uint64_t seed) {
  std::vector<int32_t> host(static_cast<size_t>(batch * pyramid_total(sizes)));
  ann::sample_pyramid_positions(host.data(), batch, h, w, sizes, seed);
  copy_to_device(positions, host.data(), host.size() * sizeof(int32_t));
}

void sample_plain_positions(int32_t* positions, int64_t batch, int64_t h, int64_t w, int64_t count,
                            uint64_t seed) {
  std::vector<int32_t> host(static_cast<size_t>(batch * count));
  ann::sample_plain_positions(host.data(), batch, h, w, count, seed);
  copy_to_device(positions, host.data(), host.size() * sizeof(int32_t));
}

void gather_positions_forward(const float* x, const int32_t* positions, float* y, int64_t b, int64_t c,
                              int64_t hw, int64_t s) {
  const int64_t total = b * c * s;
  ANN_LAUNCH("gather_positions", gather_forward_kernel, blocks_for(total, kThreads), kThreads, 0, x,
             positions, y, total, c, hw, s);
}

void gather_positions_backward(const float* dy, const int32_t* positions, float* dx, int64_t b, int64_t c,
                               int64_t hw, int64_t s) {
  scatter_planes("gather_positions_backward", dy, positions, dx, b * c, hw, s, c);
}

}  // namespace ann::cuda
