#include "tensor.h"

#include <cstring>

#include "ann/alloc.h"
#include "args.h"

namespace ann::napi {
namespace {

TensorCounters g_counters;

struct AddonData {
  Napi::FunctionReference ctor;
};

// Passed to the constructor so JS code cannot make a tensor without storage.
struct ConstructToken {};
ConstructToken g_token;

}  // namespace

TensorCounters tensor_counters() { return g_counters; }

Storage::Storage(napi_env e, size_t n, Device dev) : env(e), data(nullptr), bytes(n), device(dev) {
  if (dev != Device::CPU) throw Error("cuda storage: the CUDA backend is not available in this build");
  data = host_alloc(bytes);
  int64_t adjusted = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &adjusted);
  g_counters.storages += 1;
  g_counters.storage_bytes += static_cast<int64_t>(bytes);
}

Storage::~Storage() {
  host_free(data, bytes);
  int64_t adjusted = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(bytes), &adjusted);
  g_counters.storages -= 1;
  g_counters.storage_bytes -= static_cast<int64_t>(bytes);
}

Napi::Function JsTensor::Define(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "NativeTensor",
                                  {
                                      InstanceAccessor<&JsTensor::GetShape>("shape"),
                                      InstanceAccessor<&JsTensor::GetDtype>("dtype"),
                                      InstanceAccessor<&JsTensor::GetDevice>("device"),
                                      InstanceAccessor<&JsTensor::GetDisposed>("isDisposed"),
                                      InstanceAccessor<&JsTensor::GetSize>("size"),
                                      InstanceMethod<&JsTensor::ToArray>("toArray"),
                                      InstanceMethod<&JsTensor::Dispose>("dispose"),
                                      InstanceMethod<&JsTensor::Reshape>("reshape"),
                                      InstanceMethod<&JsTensor::Clone>("clone"),
                                  });
  auto* data = new AddonData();
  data->ctor = Napi::Persistent(fn);
  env.SetInstanceData<AddonData>(data);
  return fn;
}

JsTensor::JsTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsTensor>(info) {
  if (info.Length() != 1 || !info[0].IsExternal() ||
      info[0].As<Napi::External<ConstructToken>>().Data() != &g_token) {
    throw Napi::TypeError::New(info.Env(),
                               "NativeTensor: use the ann-seg tensor functions to create tensors");
  }
  g_counters.tensors += 1;
}

JsTensor::~JsTensor() {
  if (storage_) g_counters.tensors -= 1;
}

void JsTensor::release() {
  if (!storage_) return;
  storage_.reset();
  g_counters.tensors -= 1;
}

static JsTensor* construct(Napi::Env env, Napi::Object* out) {
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object obj = data->ctor.New({Napi::External<ConstructToken>::New(env, &g_token)});
  if (out) *out = obj;
  return JsTensor::Unwrap(obj);
}

JsTensor* JsTensor::Make(Napi::Env env, const Shape& shape, DType dtype, Napi::Object* out) {
  double total = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("tensor: negative dimension in shape " + shape_str(shape));
    total *= static_cast<double>(d);
  }
  // Checked in double so an overflowing product cannot wrap into a small allocation.
  if (total * dtype_size(dtype) > 1.0e12)
    throw Error("tensor: shape " + shape_str(shape) + " needs " + std::to_string(total * dtype_size(dtype)) +
                " bytes, above the 1e12-byte limit");
  auto storage =
      std::make_shared<Storage>(env, static_cast<size_t>(ann::numel(shape)) * dtype_size(dtype), Device::CPU);
  JsTensor* t = construct(env, out);
  t->storage_ = std::move(storage);
  t->shape_ = shape;
  t->dtype_ = dtype;
  return t;
}

JsTensor* JsTensor::View(Napi::Env env, const JsTensor& src, const Shape& shape, Napi::Object* out) {
  JsTensor* t = construct(env, out);
  t->storage_ = src.storage_;
  t->shape_ = shape;
  t->dtype_ = src.dtype_;
  return t;
}

bool JsTensor::Is(Napi::Value v) {
  if (!v.IsObject()) return false;
  auto* data = v.Env().GetInstanceData<AddonData>();
  return v.As<Napi::Object>().InstanceOf(data->ctor.Value());
}

std::string JsTensor::describe(const char* name) const {
  return std::string(name) + " " + dtype_name(dtype_) + " " + shape_str(shape_);
}

Napi::Value JsTensor::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) a.Set(i, Napi::Number::New(info.Env(), double(shape_[i])));
  return a;
}

Napi::Value JsTensor::GetDtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(dtype_));
}

Napi::Value JsTensor::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_name(device()));
}

Napi::Value JsTensor::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

Napi::Value JsTensor::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(numel()));
}

Napi::Value JsTensor::ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed()) throw Napi::Error::New(env, "toArray: tensor " + shape_str(shape_) + " is disposed");
  const size_t n = static_cast<size_t>(numel());
  if (dtype_ == DType::F32) {
    auto arr = Napi::Float32Array::New(env, n);
    if (n) std::memcpy(arr.Data(), storage_->data, n * 4);
    return arr;
  }
  auto arr = Napi::Int32Array::New(env, n);
  if (n) std::memcpy(arr.Data(), storage_->data, n * 4);
  return arr;
}

Napi::Value JsTensor::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

Napi::Value JsTensor::Reshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (disposed()) fail("reshape", "tensor " + shape_str(shape_) + " is disposed");
    Shape shape = int_list_arg(info, 0, "reshape", "shape");
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        if (infer >= 0) fail("reshape", "only one dimension can be -1 in " + shape_str(shape));
        infer = static_cast<int>(i);
      } else if (shape[i] < 0) {
        fail("reshape", "invalid dimension in " + shape_str(shape));
      } else {
        known *= shape[i];
      }
    }
    if (infer >= 0) {
      if (known == 0 || numel() % known != 0)
        fail("reshape", "cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
      shape[infer] = numel() / known;
    }
    if (ann::numel(shape) != numel())
      fail("reshape", "cannot reshape " + shape_str(shape_) + " (" + std::to_string(numel()) +
                          " elements) to " + shape_str(shape));
    Napi::Object out;
    View(env, *this, shape, &out);
    return out;
  } catch (const Error& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Value JsTensor::Clone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (disposed()) fail("clone", "tensor " + shape_str(shape_) + " is disposed");
    Napi::Object out;
    JsTensor* t = Make(env, shape_, dtype_, &out);
    if (numel()) std::memcpy(t->storage_->data, storage_->data, static_cast<size_t>(numel()) * 4);
    return out;
  } catch (const Error& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace ann::napi
