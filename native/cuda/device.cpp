// The backend's state: whether a device can be used (and why not), its one stream, error checks,
// copies, synchronisation and the TF32 switch. Probed once, on first use, so loading the addon on
// a machine without a driver costs nothing and never fails.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "../cpu/parallel.h"
#include "ann/cuda.h"
#include "blas.h"
#include "runtime.h"

namespace ann::cuda {
namespace {

struct Backend {
  bool ok = false;
  std::string why;
  cudaDeviceProp prop{};
  cudaStream_t stream = nullptr;
  bool tf32 = false;
};

[[maybe_unused]] std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  return buf;
}

[[maybe_unused]] std::string version_str(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

void probe(Backend& b) {
  const char* env = std::getenv("ANN_SEG_TF32");
  b.tf32 = env && env[0] == '1';
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // not sticky: leave nothing for a later check to misreport
#if !defined(ANN_CUDA_EMULATE)
    // The static runtime loads the driver itself; if it is not loaded now, it was not found.
    if (!dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD)) {
      b.why = std::string("no NVIDIA driver (libcuda.so.1 not found): cudaGetDeviceCount: ") +
              cudaGetErrorString(e);
      return;
    }
#endif
    b.why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    return;
  }
  if (count == 0) {
    b.why = "cudaGetDeviceCount: no CUDA-capable device is detected";
    return;
  }
  if (cudaError_t p = cudaGetDeviceProperties(&b.prop, 0); p != cudaSuccess) {
    b.why = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(p);
    return;
  }
  if (b.prop.major < 8) {
    b.why = std::string(b.prop.name) + " is sm_" + std::to_string(b.prop.major) +
            std::to_string(b.prop.minor) + "; this build runs on sm_80 and newer";
    return;
  }
  if (cudaError_t s = cudaSetDevice(0); s != cudaSuccess) {
    b.why = std::string("cudaSetDevice: ") + cudaGetErrorString(s);
    return;
  }
  if (cudaError_t s = cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking); s != cudaSuccess) {
    b.why = std::string("cudaStreamCreate: ") + cudaGetErrorString(s);
    return;
  }
  b.ok = true;
}

Backend& backend() {
  static Backend b;
  static std::once_flag once;
  std::call_once(once, [] { probe(b); });
  return b;
}

const Backend& usable(const char* op) {
  const Backend& b = backend();
  if (!b.ok) throw Error(std::string(op) + ": CUDA is unavailable: " + b.why);
  return b;
}

}  // namespace

bool available(std::string* why) {
  const Backend& b = backend();
  if (!b.ok && why) *why = b.why;
  return b.ok;
}

std::string describe() {
  const Backend& b = usable("cuda describe");
  const std::string tf = b.tf32 ? " (TF32 on)" : " (TF32 off)";
#if defined(ANN_CUDA_EMULATE)
  return "emulated on the CPU (" + std::to_string(num_threads()) + " threads), " + blas_description() + tf;
#else
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  return std::string(b.prop.name) + ", sm_" + std::to_string(b.prop.major) + std::to_string(b.prop.minor) +
         ", " + gib(static_cast<double>(b.prop.totalGlobalMem)) + ", driver " + version_str(driver) +
         ", runtime " + version_str(runtime) + ", " + blas_description() + tf;
#endif
}

std::string device_label() {
  const Backend& b = backend();
  return b.ok ? std::string("cuda:0 (") + b.prop.name + ")" : std::string("cuda:0");
}

cudaStream_t stream() { return usable("cuda stream").stream; }

void check(cudaError_t err, const char* op, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next op does not report it again
  throw Error(std::string(op) + ": " + what + ": " + cudaGetErrorString(err));
}

void copy_to_device(void* dst, const void* host_src, size_t bytes) {
  if (!bytes) return;
  ANN_CUDA_CHECK("copy_to_device", cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
}

void copy_to_host(void* host_dst, const void* src, size_t bytes) {
  if (!bytes) return;
  ANN_CUDA_CHECK("copy_to_host", cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  ANN_CUDA_CHECK("copy_to_host", cudaStreamSynchronize(stream()));
}

void copy_on_device(void* dst, const void* src, size_t bytes) {
  if (!bytes || dst == src) return;
  ANN_CUDA_CHECK("copy_on_device", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void synchronize(const char* op) { check(cudaStreamSynchronize(stream()), op, "cudaStreamSynchronize"); }

void set_tf32(bool on) { backend().tf32 = on; }
bool tf32() { return backend().tf32; }

}  // namespace ann::cuda
