#include <napi.h>

#include "../cpu/simd.h"
#include "registry.h"
#include "tensor.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // A bad ANN_SEG_SIMD fails the load: a user who forces a level must get it or hear why.
  if (!ann::simd::selection_error().empty()) throw Napi::Error::New(env, ann::simd::selection_error());
  exports.Set("NativeTensor", ann::napi::JsTensor::Define(env));
  ann::napi::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(ann_seg, Init)
