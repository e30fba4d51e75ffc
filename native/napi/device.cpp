#include "device.h"

#include <cstring>

#include "../cpu/alloc.h"

#if defined(ANN_WITH_CUDA)
#include "ann/cuda.h"
#endif

namespace ann::napi {

Device parse_device(const std::string& name, const char* op) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  throw Error(std::string(op) + ": unknown device '" + name + "' (expected 'cpu' or 'cuda')");
}

bool device_usable(Device d, std::string* why) {
  if (d == Device::CPU) return true;
#if defined(ANN_WITH_CUDA)
  // Asked once: the answer (driver, device count) does not change while the process runs.
  static std::string reason;
  static const bool ok = ann::cuda::available(&reason);
  if (!ok && why) *why = reason;
  return ok;
#else
  if (why) *why = "this build has no CUDA backend";
  return false;
#endif
}

void require_device(Device d, const char* op) {
  std::string why;
  if (!device_usable(d, &why)) throw Error(std::string(op) + ": cuda: unavailable (" + why + ")");
}

void* storage_alloc(Device d, size_t bytes) {
  if (d == Device::CPU) return host_alloc(bytes);
#if defined(ANN_WITH_CUDA)
  return ann::cuda::device_alloc(bytes);
#else
  require_device(d, "tensor");
  return nullptr;
#endif
}

void storage_free(Device d, void* ptr, size_t bytes) {
  if (d == Device::CPU) return host_free(ptr, bytes);
#if defined(ANN_WITH_CUDA)
  ann::cuda::device_free(ptr, bytes);
#endif
}

void copy_bytes(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if defined(ANN_WITH_CUDA)
  if (dst_dev == Device::CUDA && src_dev == Device::CUDA)
    ann::cuda::copy_on_device(dst, src, bytes);
  else if (dst_dev == Device::CUDA)
    ann::cuda::copy_to_device(dst, src, bytes);
  else
    ann::cuda::copy_to_host(dst, src, bytes);
#else
  require_device(Device::CUDA, "copy");
#endif
}

MemoryStats memory_stats(Device d) {
  if (d == Device::CPU) return host_memory_stats();
#if defined(ANN_WITH_CUDA)
  if (device_usable(d, nullptr)) return ann::cuda::device_memory_stats();
#endif
  return {};
}

void empty_cache(Device d) {
  if (d == Device::CPU) return host_empty_cache();
#if defined(ANN_WITH_CUDA)
  if (device_usable(d, nullptr)) ann::cuda::device_empty_cache();
#endif
}

void reset_peak(Device d) {
  if (d == Device::CPU) return host_reset_peak();
#if defined(ANN_WITH_CUDA)
  if (device_usable(d, nullptr)) ann::cuda::device_reset_peak();
#endif
}

void device_synchronize(Device d, const char* op) {
  if (d == Device::CPU || !device_usable(d, nullptr)) return;
#if defined(ANN_WITH_CUDA)
  ann::cuda::synchronize(op);
#else
  (void)op;
#endif
}

void set_tf32(bool on, const char* op) {
  require_device(Device::CUDA, op);
#if defined(ANN_WITH_CUDA)
  ann::cuda::set_tf32(on);
#else
  (void)on;
#endif
}

bool tf32() {
#if defined(ANN_WITH_CUDA)
  return device_usable(Device::CUDA, nullptr) && ann::cuda::tf32();
#else
  return false;
#endif
}

std::string cuda_summary() {
  std::string why;
  if (!device_usable(Device::CUDA, &why)) return "unavailable (" + why + ")";
#if defined(ANN_WITH_CUDA)
  return ann::cuda::describe();
#else
  return "unavailable";
#endif
}

}  // namespace ann::napi
