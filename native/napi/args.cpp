#include "args.h"

#include <algorithm>
#include <cmath>

namespace ann::napi {

void fail(const char* op, const std::string& message) { throw Error(std::string(op) + ": " + message); }

static std::string type_of(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsArray()) return "array";
  if (v.IsTypedArray()) return "typed array";
  if (v.IsFunction()) return "function";
  return "object";
}

JsTensor* tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, DType dtype,
                     int rank) {
  Napi::Value v = info[i];
  if (!JsTensor::Is(v)) fail(op, std::string("argument '") + name + "' must be a tensor, got " + type_of(v));
  JsTensor* t = JsTensor::Live(v.As<Napi::Object>(), op, name);
  if (t->dtype() != dtype) fail(op, t->describe(name) + ": expected dtype " + dtype_name(dtype));
  if (rank >= 0 && static_cast<int>(t->shape().size()) != rank)
    fail(op, t->describe(name) + ": expected rank " + std::to_string(rank) + ", got rank " +
                 std::to_string(t->shape().size()));
  if (t->numel() == 0) fail(op, t->describe(name) + " is empty");
  return t;
}

JsTensor* optional_tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                              DType dtype, int rank) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return tensor_arg(info, i, op, name, dtype, rank);
}

Device expect_same_device(const char* op, std::initializer_list<const JsTensor*> ts) {
  const JsTensor* first = nullptr;
  for (const JsTensor* t : ts) {
    if (!t) continue;
    if (!first)
      first = t;
    else if (t->device() != first->device())
      fail(op, std::string("tensors on different devices (") + device_name(first->device()) + " and " +
                   device_name(t->device()) + ")");
  }
  return first ? first->device() : Device::CPU;
}

void expect_shape(const char* op, const char* name, const JsTensor* t, const Shape& want) {
  if (t->shape() != want) fail(op, t->describe(name) + ": expected shape " + shape_str(want));
}

Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                         std::initializer_list<const char*> allowed) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject() || info[i].IsArray())
    fail(op, "options must be an object, got " + type_of(info[i]));
  Napi::Object o = info[i].As<Napi::Object>();
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t k = 0; k < keys.Length(); ++k) {
    const std::string key = keys.Get(k).ToString().Utf8Value();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(op, "unknown option '" + key + "' (expected one of " + (list.empty() ? "none" : list) + ")");
    }
  }
  return o;
}

static bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

static int64_t to_int(Napi::Value v, const char* op, const std::string& what) {
  if (!v.IsNumber()) fail(op, what + " must be an integer, got " + type_of(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15)
    fail(op, what + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

int64_t int_option(const Napi::Object& o, const char* key, int64_t dflt, const char* op) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return dflt;
  return to_int(v, op, std::string("option '") + key + "'");
}

double number_option(const Napi::Object& o, const char* key, double dflt, const char* op) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return dflt;
  if (!v.IsNumber()) fail(op, std::string("option '") + key + "' must be a number, got " + type_of(v));
  return v.As<Napi::Number>().DoubleValue();
}

bool bool_option(const Napi::Object& o, const char* key, bool dflt, const char* op) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return dflt;
  if (!v.IsBoolean()) fail(op, std::string("option '") + key + "' must be a boolean, got " + type_of(v));
  return v.As<Napi::Boolean>().Value();
}

std::string string_option(const Napi::Object& o, const char* key, const std::string& dflt, const char* op) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return dflt;
  if (!v.IsString()) fail(op, std::string("option '") + key + "' must be a string, got " + type_of(v));
  return v.As<Napi::String>().Utf8Value();
}

static std::vector<int64_t> to_int_list(Napi::Value v, const char* op, const std::string& what) {
  if (!v.IsArray()) fail(op, what + " must be an array of integers, got " + type_of(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 64) fail(op, what + " has too many entries (" + std::to_string(a.Length()) + ")");
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i)
    out[i] = to_int(a.Get(i), op, what + "[" + std::to_string(i) + "]");
  return out;
}

std::pair<int64_t, int64_t> pair_option(const Napi::Object& o, const char* key, int64_t dflt,
                                        const char* op) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return {dflt, dflt};
  const std::string what = std::string("option '") + key + "'";
  if (v.IsNumber()) {
    int64_t x = to_int(v, op, what);
    return {x, x};
  }
  auto l = to_int_list(v, op, what);
  if (l.size() != 2)
    fail(op, what + " must be a number or a pair, got " + std::to_string(l.size()) + " entries");
  return {l[0], l[1]};
}

std::vector<int64_t> int_list_option(const Napi::Object& o, const char* key, const std::vector<int64_t>& dflt,
                                     const char* op) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return dflt;
  return to_int_list(v, op, std::string("option '") + key + "'");
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  return to_int(info[i], op, std::string("argument '") + name + "'");
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (!info[i].IsNumber())
    fail(op, std::string("argument '") + name + "' must be a number, got " + type_of(info[i]));
  return info[i].As<Napi::Number>().DoubleValue();
}

std::vector<int64_t> int_list_arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                                  const char* name) {
  return to_int_list(info[i], op, std::string("argument '") + name + "'");
}

JsTensor* optional_output(bool wanted, Napi::Env env, Device device, const Shape& shape, Napi::Object* out,
                          DType dtype) {
  return wanted ? JsTensor::Make(env, device, shape, dtype, out) : nullptr;
}

Napi::Object make_result(Napi::Env env, std::initializer_list<std::pair<const char*, Napi::Value>> entries) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& kv : entries)
    if (!kv.second.IsEmpty() && !kv.second.IsUndefined()) o.Set(kv.first, kv.second);
  return o;
}

}  // namespace ann::napi
