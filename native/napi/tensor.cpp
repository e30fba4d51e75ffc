#include "tensor.h"

#include "args.h"
#include "device.h"

namespace ann::napi {
namespace {

TensorCounters g_counters;

struct AddonData {
  Napi::FunctionReference ctor;
};

// Passed to the constructor so JS code cannot make a tensor without storage.
struct ConstructToken {};
ConstructToken g_token;

// Own properties a disposed object keeps, so messages and `shape` still describe it.
constexpr const char* kShapeKey = "shape";
constexpr const char* kDtypeKey = "dtype";

Napi::Array shape_array(Napi::Env env, const Shape& shape) {
  Napi::Array a = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) a.Set(i, Napi::Number::New(env, double(shape[i])));
  return a;
}

void finalize(napi_env, void* data, void*) { delete static_cast<JsTensor*>(data); }

// Runs a property callback, turning ann::Error into a JS exception.
template <typename F>
napi_value guarded(napi_env env, napi_callback_info cb, F&& body) {
  Napi::CallbackInfo info(env, cb);
  try {
    return body(info);
  } catch (const Error& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    return nullptr;
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  } catch (const std::bad_alloc&) {
    Napi::Error::New(env, "out of memory on cpu").ThrowAsJavaScriptException();
    return nullptr;
  }
}

Napi::Object self(const Napi::CallbackInfo& info) { return info.This().As<Napi::Object>(); }

napi_value Construct(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    if (info.Length() != 1 || !info[0].IsExternal() ||
        info[0].As<Napi::External<ConstructToken>>().Data() != &g_token)
      throw Napi::TypeError::New(info.Env(),
                                 "NativeTensor: use the ann-seg tensor functions to create tensors");
    return info.This();
  });
}

napi_value GetShape(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Unwrap(self(info));
    return t ? shape_array(info.Env(), t->shape()) : Napi::Array::New(info.Env());
  });
}

napi_value GetDtype(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Unwrap(self(info));
    return Napi::String::New(info.Env(), t ? dtype_name(t->dtype()) : "float32");
  });
}

napi_value GetDevice(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Unwrap(self(info));
    return Napi::String::New(info.Env(), device_name(t ? t->device() : Device::CPU));
  });
}

napi_value GetDisposed(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    return Napi::Boolean::New(info.Env(), JsTensor::Unwrap(self(info)) == nullptr);
  });
}

napi_value GetSize(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Unwrap(self(info));
    return Napi::Number::New(info.Env(), t ? double(t->numel()) : 0.0);
  });
}

napi_value ToArray(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Live(self(info), "toArray", "this");
    const size_t n = static_cast<size_t>(t->numel());
    if (t->dtype() == DType::F32) {
      auto arr = Napi::Float32Array::New(info.Env(), n);
      copy_bytes(Device::CPU, arr.Data(), t->device(), t->f32(), n * 4);
      return arr;
    }
    auto arr = Napi::Int32Array::New(info.Env(), n);
    copy_bytes(Device::CPU, arr.Data(), t->device(), t->i32(), n * 4);
    return arr;
  });
}

napi_value Dispose(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    Napi::Env e = info.Env();
    Napi::Object obj = self(info);
    JsTensor* t = JsTensor::Unwrap(obj);
    if (!t) return e.Undefined();
    // Keep a description on the object, then drop the wrap (and with it the finalizer).
    Napi::Array shape = shape_array(e, t->shape());
    Napi::String dtype = Napi::String::New(e, dtype_name(t->dtype()));
    void* data = nullptr;
    napi_remove_wrap(e, obj, &data);
    delete t;
    obj.DefineProperties({Napi::PropertyDescriptor::Value(kShapeKey, shape, napi_default),
                          Napi::PropertyDescriptor::Value(kDtypeKey, dtype, napi_default)});
    return e.Undefined();
  });
}

napi_value Reshape(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Live(self(info), "reshape", "this");
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
      if (known == 0 || t->numel() % known != 0)
        fail("reshape", "cannot reshape " + shape_str(t->shape()) + " to " + shape_str(shape));
      shape[infer] = t->numel() / known;
    }
    if (ann::numel(shape) != t->numel())
      fail("reshape", "cannot reshape " + shape_str(t->shape()) + " (" + std::to_string(t->numel()) +
                          " elements) to " + shape_str(shape));
    Napi::Object out;
    JsTensor::View(info.Env(), *t, shape, &out);
    return out;
  });
}

napi_value Clone(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Live(self(info), "clone", "this");
    Napi::Object out;
    JsTensor* c = JsTensor::Make(info.Env(), t->device(), t->shape(), t->dtype(), &out);
    copy_bytes(c->device(), c->f32(), t->device(), t->f32(), static_cast<size_t>(t->numel()) * 4);
    return out;
  });
}

// to(device): a copy on that device (always a copy; Tensor.to in TypeScript returns the tensor
// itself when it is already there).
napi_value To(napi_env env, napi_callback_info cb) {
  return guarded(env, cb, [](const Napi::CallbackInfo& info) -> napi_value {
    JsTensor* t = JsTensor::Live(self(info), "to", "this");
    if (info.Length() < 1 || !info[0].IsString()) fail("to", "device must be 'cpu' or 'cuda'");
    const Device d = parse_device(info[0].As<Napi::String>().Utf8Value(), "to");
    require_device(d, "to");
    Napi::Object out;
    JsTensor* c = JsTensor::Make(info.Env(), d, t->shape(), t->dtype(), &out);
    copy_bytes(d, c->f32(), t->device(), t->f32(), static_cast<size_t>(t->numel()) * 4);
    return out;
  });
}

}  // namespace

TensorCounters tensor_counters() { return g_counters; }

Storage::Storage(napi_env e, size_t n, Device dev) : env(e), data(nullptr), bytes(n), device(dev) {
  data = storage_alloc(dev, bytes);
  int64_t adjusted = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &adjusted);
  g_counters.storages += 1;
  g_counters.storage_bytes += static_cast<int64_t>(bytes);
}

Storage::~Storage() {
  storage_free(device, data, bytes);
  int64_t adjusted = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(bytes), &adjusted);
  g_counters.storages -= 1;
  g_counters.storage_bytes -= static_cast<int64_t>(bytes);
}

Napi::Function JsTensor::Define(Napi::Env env) {
  auto accessor = [](const char* name, napi_callback getter) {
    return napi_property_descriptor{name,    nullptr, nullptr,           getter,
                                    nullptr, nullptr, napi_configurable, nullptr};
  };
  auto method = [](const char* name, napi_callback fn) {
    return napi_property_descriptor{name, nullptr, fn, nullptr, nullptr, nullptr, napi_configurable, nullptr};
  };
  const napi_property_descriptor props[] = {
      accessor("shape", GetShape),   accessor("dtype", GetDtype),
      accessor("device", GetDevice), accessor("isDisposed", GetDisposed),
      accessor("size", GetSize),     method("toArray", ToArray),
      method("dispose", Dispose),    method("reshape", Reshape),
      method("clone", Clone),        method("to", To),
  };
  napi_value cls;
  napi_status st = napi_define_class(env, "NativeTensor", NAPI_AUTO_LENGTH, Construct, nullptr,
                                     sizeof(props) / sizeof(props[0]), props, &cls);
  if (st != napi_ok) throw Napi::Error::New(env, "NativeTensor: napi_define_class failed");
  Napi::Function fn(env, cls);
  auto* data = new AddonData();
  data->ctor = Napi::Persistent(fn);
  env.SetInstanceData<AddonData>(data);
  return fn;
}

JsTensor::JsTensor(std::shared_ptr<Storage> storage, Shape shape, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)), dtype_(dtype) {
  g_counters.tensors += 1;
}

JsTensor::~JsTensor() { g_counters.tensors -= 1; }

JsTensor* JsTensor::attach(Napi::Env env, JsTensor* t, Napi::Object* out) {
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object obj;
  try {
    obj = data->ctor.New({Napi::External<ConstructToken>::New(env, &g_token)});
  } catch (...) {
    delete t;
    throw;
  }
  if (napi_wrap(env, obj, t, finalize, nullptr, nullptr) != napi_ok) {
    delete t;
    throw Error("tensor: napi_wrap failed");
  }
  if (out) *out = obj;
  return t;
}

JsTensor* JsTensor::Make(Napi::Env env, Device device, const Shape& shape, DType dtype, Napi::Object* out) {
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
      std::make_shared<Storage>(env, static_cast<size_t>(ann::numel(shape)) * dtype_size(dtype), device);
  return attach(env, new JsTensor(std::move(storage), shape, dtype), out);
}

JsTensor* JsTensor::View(Napi::Env env, const JsTensor& src, const Shape& shape, Napi::Object* out) {
  return attach(env, new JsTensor(src.storage_, shape, src.dtype_), out);
}

bool JsTensor::Is(Napi::Value v) {
  if (!v.IsObject()) return false;
  auto* data = v.Env().GetInstanceData<AddonData>();
  return v.As<Napi::Object>().InstanceOf(data->ctor.Value());
}

JsTensor* JsTensor::Unwrap(Napi::Object o) {
  void* data = nullptr;
  if (napi_unwrap(o.Env(), o, &data) != napi_ok) return nullptr;
  return static_cast<JsTensor*>(data);
}

JsTensor* JsTensor::Live(Napi::Object o, const char* op, const std::string& name) {
  if (JsTensor* t = Unwrap(o)) return t;
  Shape shape;
  Napi::Value s = o.Get(kShapeKey);
  if (s.IsArray()) {
    Napi::Array a = s.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) shape.push_back(a.Get(i).As<Napi::Number>().Int64Value());
  }
  const std::string who = name == "this" ? std::string("tensor ") : "tensor '" + name + "' ";
  fail(op, who + shape_str(shape) + " is disposed");
}

void JsTensor::copy_out(void* host_dst, size_t offset, size_t bytes) const {
  copy_bytes(Device::CPU, host_dst, device(), static_cast<const char*>(storage_->data) + offset, bytes);
}

void JsTensor::copy_in(const void* host_src, size_t bytes) {
  copy_bytes(device(), storage_->data, Device::CPU, host_src, bytes);
}

std::string JsTensor::describe(const char* name) const {
  return std::string(name) + " " + dtype_name(dtype_) + " " + shape_str(shape_);
}

}  // namespace ann::napi
