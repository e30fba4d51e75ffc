// Tensor creation, memory counters, threads and build information.
#include <cmath>
#include <vector>

#include "../cpu/gemm.h"
#include "../cpu/parallel.h"
#include "../cpu/simd.h"
#include "args.h"
#include "device.h"
#include "dispatch.h"
#include "registry.h"

// The version baked in by the build (binding.gyp/CMakeLists.txt read package.json), so `ann-seg info`
// can tell a stale binary from the package around it.
#ifndef ANN_SEG_VERSION
#define ANN_SEG_VERSION "unknown"
#endif

// From OpenBLAS (cblas.h declares them too): the core its dynamic dispatch picked, and its build.
extern "C" char* openblas_get_corename(void);
extern "C" char* openblas_get_config(void);

namespace ann::napi {
namespace {

Shape shape_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Shape s = int_list_arg(info, i, op, "shape");
  if (s.size() > 8) fail(op, "rank " + std::to_string(s.size()) + " is above the maximum of 8");
  double total = 1;
  for (int64_t d : s) {
    if (d < 0) fail(op, "negative dimension in shape " + shape_str(s));
    total *= static_cast<double>(d);
  }
  if (total > 4.0e9) fail(op, "shape " + shape_str(s) + " has too many elements");
  return s;
}

DType dtype_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined()) return DType::F32;
  if (!info[i].IsString()) fail(op, "dtype must be 'float32' or 'int32'");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s == "float32") return DType::F32;
  if (s == "int32") return DType::I32;
  fail(op, "unknown dtype '" + s + "' (expected 'float32' or 'int32')");
}

// The device argument at i: 'cpu' (also when undefined) or 'cuda', which must be usable.
Device device_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined()) return Device::CPU;
  if (!info[i].IsString()) fail(op, "device must be 'cpu' or 'cuda'");
  const Device d = parse_device(info[i].As<Napi::String>().Utf8Value(), op);
  require_device(d, op);
  return d;
}

// fromArray(data: Float32Array | Int32Array, shape, device = 'cpu')
Napi::Value FromArray(const Napi::CallbackInfo& info) {
  const char* op = "fromArray";
  if (!info[0].IsTypedArray()) fail(op, "data must be a Float32Array or Int32Array");
  auto ta = info[0].As<Napi::TypedArray>();
  DType dtype;
  if (ta.TypedArrayType() == napi_float32_array)
    dtype = DType::F32;
  else if (ta.TypedArrayType() == napi_int32_array)
    dtype = DType::I32;
  else
    fail(op, "data must be a Float32Array or Int32Array");
  Shape shape = shape_arg(info, 1, op);
  if (static_cast<int64_t>(ta.ElementLength()) != numel(shape))
    fail(op, "data has " + std::to_string(ta.ElementLength()) + " elements but shape " + shape_str(shape) +
                 " needs " + std::to_string(numel(shape)));
  const Device device = device_arg(info, 2, op);
  Napi::Object out;
  JsTensor* t = JsTensor::Make(info.Env(), device, shape, dtype, &out);
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  t->copy_in(src, static_cast<size_t>(t->numel()) * 4);
  return out;
}

// empty(shape, dtype?, device = 'cpu')
Napi::Value Empty(const Napi::CallbackInfo& info) {
  Shape shape = shape_arg(info, 0, "empty");
  DType dtype = dtype_arg(info, 1, "empty");
  const Device device = device_arg(info, 2, "empty");
  Napi::Object out;
  JsTensor::Make(info.Env(), device, shape, dtype, &out);
  return out;
}

// full(shape, value, dtype?, device = 'cpu')
Napi::Value Full(const Napi::CallbackInfo& info) {
  const char* op = "full";
  Shape shape = shape_arg(info, 0, op);
  double value = number_arg(info, 1, op, "value");
  DType dtype = dtype_arg(info, 2, op);
  const Device device = device_arg(info, 3, op);
  if (dtype == DType::I32 && !(value == std::floor(value) && std::fabs(value) <= 2147483647.0))
    fail(op, "value " + std::to_string(value) + " is not an int32");
  Napi::Object out;
  JsTensor* t = JsTensor::Make(info.Env(), device, shape, dtype, &out);
  const int64_t n = t->numel();
  if (n == 0) return out;
  if (dtype == DType::F32) {
    ANN_DISPATCH(device, op, fill, t->f32(), static_cast<float>(value), n);
  } else {
    // No int32 fill kernel: filled on the host, copied once (int32 tensors are small: labels).
    std::vector<int32_t> host(static_cast<size_t>(n), static_cast<int32_t>(value));
    t->copy_in(host.data(), host.size() * 4);
  }
  return out;
}

void set_stats(Napi::Env env, Napi::Object o, const MemoryStats& m) {
  o.Set("allocatedBytes", Napi::Number::New(env, double(m.live_bytes)));
  o.Set("cachedBytes", Napi::Number::New(env, double(m.cached_bytes)));
  o.Set("peakBytes", Napi::Number::New(env, double(m.peak_bytes)));
}

// Host allocator's stats at the top level (as before CUDA existed); the device's under `cuda`
// when CUDA tensors can be made.
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TensorCounters c = tensor_counters();
  Napi::Object o = Napi::Object::New(env);
  o.Set("numTensors", Napi::Number::New(env, double(c.tensors)));
  o.Set("numStorages", Napi::Number::New(env, double(c.storages)));
  o.Set("numBytes", Napi::Number::New(env, double(c.storage_bytes)));
  set_stats(env, o, memory_stats(Device::CPU));
  if (device_usable(Device::CUDA, nullptr)) {
    Napi::Object d = Napi::Object::New(env);
    set_stats(env, d, memory_stats(Device::CUDA));
    o.Set("cuda", d);
  }
  return o;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  empty_cache(Device::CPU);
  empty_cache(Device::CUDA);
  return info.Env().Undefined();
}

Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  reset_peak(Device::CPU);
  reset_peak(Device::CUDA);
  return info.Env().Undefined();
}

// synchronize(): waits for the CUDA device's queued kernels (timing; a no-op without CUDA).
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  device_synchronize(Device::CUDA, "synchronize");
  return info.Env().Undefined();
}

// setTF32(on): TF32 tensor-core math for the CUDA GEMMs (cuBLAS); refused where CUDA is unavailable.
Napi::Value SetTF32(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) fail("setTF32", "on must be true or false");
  set_tf32(info[0].As<Napi::Boolean>().Value(), "setTF32");
  return info.Env().Undefined();
}

Napi::Value TF32(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tf32()); }

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = int_arg(info, 0, "setNumThreads", "n");
  if (n < 1 || n > 256) fail("setNumThreads", "n must be between 1 and 256, got " + std::to_string(n));
  set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), num_threads());
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Napi::String::New(env, ANN_SEG_VERSION));
  o.Set("blasCore", Napi::String::New(env, openblas_get_corename()));
  o.Set("blasConfig", Napi::String::New(env, openblas_get_config()));
  o.Set("blas", Napi::String::New(env, blas_name()));
  o.Set("threads", Napi::Number::New(env, num_threads()));
  o.Set("simd", Napi::String::New(env, simd::level_name(simd::level())));
  const std::vector<std::string> levels = simd::supported_levels();
  Napi::Array list = Napi::Array::New(env, levels.size());
  for (size_t i = 0; i < levels.size(); ++i)
    list.Set(static_cast<uint32_t>(i), Napi::String::New(env, levels[i]));
  o.Set("simdLevels", list);
  o.Set("cuda", Napi::String::New(env, cuda_summary()));
#if defined(ANN_WITH_CUDA)
  // While the CUDA families are being written: which kernels this build's backend lacks.
  const std::vector<std::string> missing = missing_cuda_kernels();
  Napi::Array m = Napi::Array::New(env, missing.size());
  for (size_t i = 0; i < missing.size(); ++i)
    m.Set(static_cast<uint32_t>(i), Napi::String::New(env, missing[i]));
  o.Set("cudaKernelsMissing", m);
#endif
  return o;
}

}  // namespace

ANN_REGISTER_BINDINGS(core) {
  def(env, exports, "fromArray", FromArray);
  def(env, exports, "empty", Empty);
  def(env, exports, "full", Full);
  def(env, exports, "memory", Memory);
  def(env, exports, "emptyCache", EmptyCache);
  def(env, exports, "resetPeakBytes", ResetPeak);
  def(env, exports, "synchronize", Synchronize);
  def(env, exports, "setTF32", SetTF32);
  def(env, exports, "tf32", TF32);
  def(env, exports, "setNumThreads", SetNumThreads);
  def(env, exports, "numThreads", NumThreads);
  def(env, exports, "info", Info);
}

}  // namespace ann::napi
