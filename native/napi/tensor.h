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

class JsTensor : public Napi::ObjectWrap<JsTensor> {
 public:
  static Napi::Function Define(Napi::Env env);
  // A new tensor with fresh (uninitialised) storage.
  static JsTensor* Make(Napi::Env env, const Shape& shape, DType dtype, Napi::Object* out);
  // A new tensor sharing `src`'s storage with another shape of the same size.
  static JsTensor* View(Napi::Env env, const JsTensor& src, const Shape& shape, Napi::Object* out);
  static bool Is(Napi::Value v);

  explicit JsTensor(const Napi::CallbackInfo& info);
  ~JsTensor() override;

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::CPU; }
  bool disposed() const { return !storage_; }
  int64_t numel() const { return ann::numel(shape_); }
  float* f32() const { return static_cast<float*>(storage_->data); }
  int32_t* i32() const { return static_cast<int32_t*>(storage_->data); }
  // "x float32 [2,3,5,5]"
  std::string describe(const char* name) const;
  void release();

 private:
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDtype(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value Clone(const Napi::CallbackInfo& info);

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
