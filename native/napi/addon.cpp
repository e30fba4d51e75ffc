#include <napi.h>

#include "registry.h"
#include "tensor.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", ann::napi::JsTensor::Define(env));
  ann::napi::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(ann_seg, Init)
