// Argument checking shared by every binding. Each check throws ann::Error with a message that
// names the op and the shapes involved, before any memory is touched.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "ann/common.h"
#include "tensor.h"

namespace ann::napi {

// Formats "op: message" and throws ann::Error.
[[noreturn]] void fail(const char* op, const std::string& message);

// The i-th argument as a live tensor of the given dtype (checked), with rank `rank` unless -1.
JsTensor* tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                     DType dtype = DType::F32, int rank = -1);
// The same, but null/undefined gives nullptr.
JsTensor* optional_tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                              DType dtype = DType::F32, int rank = -1);
// Tensors passed to one op must share a device (null entries skipped); returns it.
Device expect_same_device(const char* op, std::initializer_list<const JsTensor*> ts);
void expect_shape(const char* op, const char* name, const JsTensor* t, const Shape& want);

// Options object at argument i (undefined gives an empty object). Every key must be one of
// `allowed`: a misspelt name would otherwise silently fall back to its default.
Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                         std::initializer_list<const char*> allowed);
int64_t int_option(const Napi::Object& o, const char* key, int64_t dflt, const char* op);
double number_option(const Napi::Object& o, const char* key, double dflt, const char* op);
bool bool_option(const Napi::Object& o, const char* key, bool dflt, const char* op);
std::string string_option(const Napi::Object& o, const char* key, const std::string& dflt, const char* op);
// A number or a [a, b] pair.
std::pair<int64_t, int64_t> pair_option(const Napi::Object& o, const char* key, int64_t dflt, const char* op);
std::vector<int64_t> int_list_option(const Napi::Object& o, const char* key, const std::vector<int64_t>& dflt,
                                     const char* op);

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
double number_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
std::vector<int64_t> int_list_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);

// An output made only when `wanted`: nullptr otherwise, leaving *out empty so make_result skips it.
JsTensor* optional_output(bool wanted, Napi::Env env, Device device, const Shape& shape, Napi::Object* out,
                          DType dtype = DType::F32);
// The float32 data of an optional tensor, or nullptr.
inline float* f32_or_null(const JsTensor* t) { return t ? t->f32() : nullptr; }

// A JS object {key: tensor, ...} from pairs; entries with a null tensor object are skipped.
Napi::Object make_result(Napi::Env env, std::initializer_list<std::pair<const char*, Napi::Value>> entries);

}  // namespace ann::napi
