// The JS-visible tensor: shape, dtype, device and a shared native storage. Views made by
// reshape share the storage; the storage is freed when its last tensor is disposed or collected.
#pragma once
#include <napi.h>

#include <memory>

#include "ann/common.h"

namespace ann::napi {

struct Storage {
  Storage(napi_env env, size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  napi_env env;
  void* data;
  size_t bytes;
  Device device;
};

// The native half of a JS tensor object. The object holds it through napi_wrap with a finalizer
// (the safety net for tensors never disposed); dispose() removes the wrap and deletes it at once,
// so a disposed tensor leaves nothing for Node to finalize later: a synchronous loop that
// disposes what it makes runs in constant memory without the event loop turning.
class JsTensor {
 public:
  static Napi::Function Define(Napi::Env env);
  // A new tensor with fresh (uninitialised) storage on `device`.
  static JsTensor* Make(Napi::Env env, Device device, const Shape& shape, DType dtype, Napi::Object* out);
  // A new tensor sharing `src`'s storage with another shape of the same size.
  static JsTensor* View(Napi::Env env, const JsTensor& src, const Shape& shape, Napi::Object* out);
  // Whether v is a tensor object (live or disposed).
  static bool Is(Napi::Value v);
  // The live tensor behind a tensor object; a disposed one fails with
  // "op: tensor 'name' [2,3] is disposed".
  static JsTensor* Live(Napi::Object o, const char* op, const std::string& name);
  // The live tensor, or nullptr when disposed.
  static JsTensor* Unwrap(Napi::Object o);

  ~JsTensor();
  JsTensor(const JsTensor&) = delete;
  JsTensor& operator=(const JsTensor&) = delete;

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_->device; }
  int64_t numel() const { return ann::numel(shape_); }
  float* f32() const { return static_cast<float*>(storage_->data); }
  int32_t* i32() const { return static_cast<int32_t*>(storage_->data); }
  // "x float32 [2,3,5,5]"
  std::string describe(const char* name) const;

  // Element i copied to the host, through the device's copy: for the few numbers a binding must
  // see (a scalar gradient, the bad index an error message quotes).
  template <typename T>
  T value_at(int64_t i) const {
    T v;
    copy_out(&v, static_cast<size_t>(i) * sizeof(T), sizeof(T));
    return v;
  }
  // Overwrites the first `bytes` of the storage with host data (a kernel's scalar result).
  void copy_in(const void* host_src, size_t bytes);

 private:
  JsTensor(std::shared_ptr<Storage> storage, Shape shape, DType dtype);
  static JsTensor* attach(Napi::Env env, JsTensor* t, Napi::Object* out);
  void copy_out(void* host_dst, size_t offset, size_t bytes) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::F32;
};

struct TensorCounters {
  int64_t tensors = 0;
  int64_t storages = 0;
  int64_t storage_bytes = 0;
};
TensorCounters tensor_counters();

}  // namespace ann::napi
