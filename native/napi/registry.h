// Each binding file registers its functions at static-initialisation time, so adding an op
// family means adding one file and touching no shared list.
#pragma once
#include <napi.h>

namespace ann::napi {

using BindingFn = Napi::Value (*)(const Napi::CallbackInfo&);
using RegisterFn = void (*)(Napi::Env, Napi::Object);

struct Registrar {
  Registrar(const char* family, RegisterFn fn);
};

void register_all(Napi::Env env, Napi::Object exports);

// Exports fn under `name`, turning ann::Error and allocation failures into JS exceptions.
void def(Napi::Env env, Napi::Object exports, const char* name, BindingFn fn);

}  // namespace ann::napi

#define ANN_REGISTER_BINDINGS(family)                                                   \
  static void ann_register_##family(Napi::Env env, Napi::Object exports);               \
  static ::ann::napi::Registrar ann_registrar_##family(#family, ann_register_##family); \
  static void ann_register_##family(Napi::Env env, Napi::Object exports)
