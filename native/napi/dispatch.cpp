#include "dispatch.h"

namespace ann::napi {

void fail_no_cuda_kernel(const char* op, const char* kernel) {
  throw Error(std::string(op) + ": no CUDA kernel for " + kernel + " in this build");
}

std::vector<std::string> missing_cuda_kernels() {
  std::vector<std::string> missing;
#define ANN_CHECK_TWIN(name) \
  if (&::ann::cuda::name == nullptr) missing.push_back(#name);
  ANN_KERNELS(ANN_CHECK_TWIN)
#undef ANN_CHECK_TWIN
  return missing;
}

}  // namespace ann::napi
