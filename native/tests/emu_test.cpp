// The emulator itself (emulated build only): barriers really order a block's threads, divergent
// barriers and deadlocks end the launch with an error naming the kernel, shuffles and votes give
// CUDA's values, shared memory is per block, atomics are atomic across blocks, fresh memory is NaN.
#if defined(ANN_CUDA_EMULATE)  // kernels written here are host C++: the emulated build only
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "../cpu/parallel.h"
#include "../cuda/reduce.cuh"
#include "../cuda/runtime.h"
#include "harness.h"

namespace ann::tests {
namespace {

// Each thread writes its slot, and after the barrier reads its neighbour's: without the barrier
// the fibers run one after another and thread t would read a slot thread t+1 has not written.
__global__ void rotate_through_shared(const float* x, float* y) {
  __shared__ float s[256];
  const int t = threadIdx.x;
  s[t] = x[blockIdx.x * 256 + t];
  __syncthreads();
  y[blockIdx.x * 256 + t] = s[(t + 1) % 256];
}

__global__ void exit_before_barrier(float* y) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  y[threadIdx.x] = 1.f;
}

__global__ void barrier_in_branch(float* y) {
  // Different work on each side, so the compiler cannot merge the two barriers into one.
  if (threadIdx.x < 32) {
    y[threadIdx.x] = 2.f;
    __syncthreads();
    y[threadIdx.x] += 1.f;
  } else {
    __syncthreads();
    y[threadIdx.x] = 1.f;
  }
}

__global__ void half_warp_shuffles(float* y) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 16)
    v = __shfl_xor_sync(0xffffffffu, v, 1);
  else
    __syncthreads();
  y[threadIdx.x] = v;
}

__global__ void shuffles(float* out) {
  const int lane = threadIdx.x & 31;
  const float v = static_cast<float>(threadIdx.x);
  float* o = out + threadIdx.x * 6;
  o[0] = __shfl_xor_sync(0xffffffffu, v, 5);
  o[1] = __shfl_down_sync(0xffffffffu, v, 3);
  o[2] = __shfl_up_sync(0xffffffffu, v, 2);
  o[3] = __shfl_sync(0xffffffffu, v, 31 - lane);
  o[4] = __shfl_down_sync(0xffffffffu, v, 4, 8);  // within groups of 8
  o[5] = static_cast<float>(__shfl_sync(0xffffffffu, static_cast<double>(v) * 2, (lane + 1) & 31));
}

__global__ void votes(unsigned* out) {
  const int lane = threadIdx.x & 31;
  const unsigned b = __ballot_sync(0xffffffffu, lane % 3 == 0);
  const int any = __any_sync(0xffffffffu, lane == 7), all = __all_sync(0xffffffffu, lane < 31);
  __syncwarp();
  if (lane == 0) {
    out[(threadIdx.x >> 5) * 3 + 0] = b;
    out[(threadIdx.x >> 5) * 3 + 1] = static_cast<unsigned>(any);
    out[(threadIdx.x >> 5) * 3 + 2] = static_cast<unsigned>(all);
  }
}

// Dynamic shared memory sized by the launch and the block sum from reduce.cuh.
__global__ void block_sums(const float* x, int n, float* out) {
  ANN_DYNAMIC_SHARED(float, scratch);
  float v = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) v += x[blockIdx.x * n + i];
  const float s = cuda::block_sum(v, scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

__global__ void atomics(float* fsum, double* dsum, int* isum, unsigned long long* usum, int* imax, int* lock,
                        int* guarded, unsigned* exch) {
  atomicAdd(fsum, 1.f);
  atomicAdd(dsum, 0.5);
  atomicAdd(isum, 2);
  atomicAdd(usum, 3ull);
  atomicMax(imax, static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x));
  if (threadIdx.x == 0) {
    while (atomicCAS(lock, 0, 1) != 0) {
    }
    *guarded += 1;  // a plain read-modify-write, safe only under the lock
    atomicExch(lock, 0);
    atomicExch(exch, blockIdx.x + 1);
  }
}

__global__ void record_order(int* ticket, int* order) {
  if (threadIdx.x == 0) order[blockIdx.x] = atomicAdd(ticket, 1);
}

__global__ void grid_shape(unsigned* out) {
  const unsigned b = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  out[b * blockDim.x * blockDim.y * blockDim.z + t] = b * 1000 + t;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

ANN_TEST("emu", barrier_orders_threads) {
  const auto x = uniform(4 * 256, 1);
  DeviceFloats dx(x), dy(4 * 256);
  ANN_LAUNCH("emu test", rotate_through_shared, 4, 256, 0, dx.data(), dy.data());
  const auto y = dy.host();
  std::vector<float> want(y.size());
  for (int b = 0; b < 4; ++b)
    for (int t = 0; t < 256; ++t) want[b * 256 + t] = x[b * 256 + (t + 1) % 256];
  run.expect_same("rotate", y.data(), want.data(), 4 * 256);
}

ANN_TEST("emu", divergent_barriers_are_errors) {
  DeviceFloats dy(64);
  const std::string exited =
      error_of([&] { ANN_LAUNCH("emu test", exit_before_barrier, 1, 64, 0, dy.data()); });
  run.expect(has(exited, "emu test: launch of exit_before_barrier") &&
                 has(exited, "divergent __syncthreads") && has(exited, "exited"),
             "an exit before a barrier: '" + exited + "'");
  const std::string branch =
      error_of([&] { ANN_LAUNCH("emu test", barrier_in_branch, 1, 64, 0, dy.data()); });
  run.expect(has(branch, "barrier_in_branch") && has(branch, "different __syncthreads"),
             "barriers in two branches: '" + branch + "'");
  const std::string dead = error_of([&] { ANN_LAUNCH("emu test", half_warp_shuffles, 1, 32, 0, dy.data()); });
  run.expect(has(dead, "half_warp_shuffles") && has(dead, "deadlock"),
             "half a warp shuffling: '" + dead + "'");
  // And the emulator still works after an aborted launch.
  const auto x = uniform(256, 2);
  DeviceFloats dx(x), dz(256);
  ANN_LAUNCH("emu test", rotate_through_shared, 1, 256, 0, dx.data(), dz.data());
  run.expect(dz.host()[0] == x[1], "a launch after a failed one");
}

ANN_TEST("emu", bad_configurations_are_errors) {
  DeviceFloats dy(64);
  const std::string big =
      error_of([&] { ANN_LAUNCH("emu test", exit_before_barrier, 1, 2048, 0, dy.data()); });
  run.expect(has(big, "invalid configuration argument") && has(big, "block (2048,1,1)"),
             "2048 threads: " + big);
  const std::string empty =
      error_of([&] { ANN_LAUNCH("emu test", exit_before_barrier, 0, 32, 0, dy.data()); });
  run.expect(has(empty, "invalid configuration argument"), "an empty grid: " + empty);
}

ANN_TEST("emu", shuffles_match_cuda) {
  DeviceFloats d(64 * 6);
  ANN_LAUNCH("emu test", shuffles, 1, 64, 0, d.data());
  const auto o = d.host();
  for (int t = 0; t < 64; ++t) {
    const int lane = t & 31, base = t - lane;
    const float want[6] = {
        float(base + (lane ^ 5)), float(lane + 3 < 32 ? t + 3 : t),    float(lane >= 2 ? t - 2 : t),
        float(base + 31 - lane),  float(lane % 8 + 4 < 8 ? t + 4 : t), float(2 * (base + ((lane + 1) & 31)))};
    for (int k = 0; k < 6; ++k)
      run.expect(o[t * 6 + k] == want[k], "shuffle " + std::to_string(k) + " at thread " + std::to_string(t) +
                                              ": " + std::to_string(o[t * 6 + k]) +
                                              " != " + std::to_string(want[k]));
  }
}

ANN_TEST("emu", votes_match_cuda) {
  unsigned* d = static_cast<unsigned*>(cuda::device_alloc(6 * 4));
  ANN_LAUNCH("emu test", votes, 1, 64, 0, d);
  unsigned o[6];
  cuda::copy_to_host(o, d, sizeof o);
  cuda::device_free(d, 6 * 4);
  unsigned want = 0;
  for (int l = 0; l < 32; l += 3) want |= 1u << l;
  for (int w = 0; w < 2; ++w) {
    run.expect(o[w * 3] == want, "ballot");
    run.expect(o[w * 3 + 1] == 1 && o[w * 3 + 2] == 0, "any/all");
  }
}

ANN_TEST("emu", dynamic_shared_and_block_sum) {
  const int blocks = 5, n = 1000;
  std::vector<float> x(blocks * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
  DeviceFloats dx(x), dy(blocks);
  ANN_LAUNCH("emu test", block_sums, blocks, 256, 8 * sizeof(float), dx.data(), n, dy.data());
  const auto y = dy.host();
  for (int b = 0; b < blocks; ++b) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += x[b * n + i];
    run.expect(y[b] == static_cast<float>(s), "block " + std::to_string(b) + " sum " + std::to_string(y[b]));
  }
}

ANN_TEST("emu", atomics_across_blocks) {
  struct Counters {
    float f;
    int pad0;
    double d;
    int i;
    int imax;
    unsigned long long u;
    int lock;
    int guarded;
    unsigned exch;
  };
  auto* c = static_cast<Counters*>(cuda::device_alloc(sizeof(Counters)));
  ANN_CUDA_CHECK("emu test", cudaMemsetAsync(c, 0, sizeof(Counters), cuda::stream()));
  const int blocks = 64, threads = 128;
  ANN_LAUNCH("emu test", atomics, blocks, threads, 0, &c->f, &c->d, &c->i, &c->u, &c->imax, &c->lock,
             &c->guarded, &c->exch);
  Counters h;
  cuda::copy_to_host(&h, c, sizeof h);
  cuda::device_free(c, sizeof(Counters));
  const int n = blocks * threads;
  run.expect(h.f == float(n) && h.d == 0.5 * n && h.i == 2 * n && h.u == 3ull * n, "atomicAdd sums");
  run.expect(h.imax == n - 1, "atomicMax");
  run.expect(h.guarded == blocks && h.lock == 0, "an atomicCAS lock");
  run.expect(h.exch >= 1 && h.exch <= unsigned(blocks), "atomicExch");
}

ANN_TEST("emu", fresh_memory_is_nan_and_order_reverses) {
  DeviceFloats d(100);
  const auto h = d.host();
  bool all_nan = true;
  for (float v : h) all_nan &= std::isnan(v);
  run.expect(all_nan, "fresh device memory is NaN");

  const int blocks = 16;
  int* t = static_cast<int*>(cuda::device_alloc((blocks + 1) * 4));
  const int threads_before = num_threads();
  set_num_threads(1);  // one OS thread, so the ticket order is the block order
  const char* env = std::getenv("ANN_CUDA_EMU_REVERSE");
  const std::string saved = env ? env : "";
  int order[2][blocks];
  for (int rev = 0; rev < 2; ++rev) {
    setenv("ANN_CUDA_EMU_REVERSE", rev ? "1" : "0", 1);
    ANN_CUDA_CHECK("emu test", cudaMemsetAsync(t, 0, 4, cuda::stream()));
    ANN_LAUNCH("emu test", record_order, blocks, 32, 0, t, t + 1);
    cuda::copy_to_host(order[rev], t + 1, sizeof order[rev]);
  }
  env ? setenv("ANN_CUDA_EMU_REVERSE", saved.c_str(), 1) : unsetenv("ANN_CUDA_EMU_REVERSE");
  set_num_threads(threads_before);
  cuda::device_free(t, (blocks + 1) * 4);
  for (int b = 0; b < blocks; ++b) {
    run.expect(order[0][b] == b, "forward order");
    run.expect(order[1][b] == blocks - 1 - b, "reverse order");
  }
}

ANN_TEST("emu", three_dimensional_grids) {
  const dim3 grid(3, 2, 2), block(8, 4, 2);
  const int n = 12 * 64;
  unsigned* d = static_cast<unsigned*>(cuda::device_alloc(n * 4));
  ANN_LAUNCH("emu test", grid_shape, grid, block, 0, d);
  std::vector<unsigned> h(n);
  cuda::copy_to_host(h.data(), d, n * 4);
  cuda::device_free(d, n * 4);
  for (int b = 0; b < 12; ++b)
    for (int t = 0; t < 64; ++t)
      run.expect(h[b * 64 + t] == unsigned(b * 1000 + t), "index " + std::to_string(b));
}

}  // namespace ann::tests
#endif
