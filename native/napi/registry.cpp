#include "registry.h"

#include <new>
#include <vector>

#include "ann/common.h"

namespace ann::napi {
namespace {

struct Entry {
  const char* family;
  RegisterFn fn;
};

std::vector<Entry>& entries() {
  static std::vector<Entry> e;
  return e;
}

}  // namespace

Registrar::Registrar(const char* family, RegisterFn fn) { entries().push_back({family, fn}); }

void register_all(Napi::Env env, Napi::Object exports) {
  for (const Entry& e : entries()) e.fn(env, exports);
}

void def(Napi::Env env, Napi::Object exports, const char* name, BindingFn fn) {
  exports.Set(name, Napi::Function::New(
                        env,
                        [fn](const Napi::CallbackInfo& info) -> Napi::Value {
                          try {
                            return fn(info);
                          } catch (const Error& e) {
                            throw Napi::Error::New(info.Env(), e.what());
                          } catch (const std::bad_alloc&) {
                            throw Napi::Error::New(info.Env(), "out of memory on cpu");
                          }
                        },
                        name));
}

}  // namespace ann::napi
