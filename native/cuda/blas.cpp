// cuBLAS found at run time and driven row-major. A row-major C [M,N] is a column-major C^T [N,M],
// and C^T = op(B)^T op(A)^T, so each call swaps the operands and the sizes, keeping each operand's
// own transpose flag and leading dimension.
#include "blas.h"

#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "cublas_api.h"
#include "runtime.h"

namespace ann::cuda {
namespace cublas {

const char* status_name(int s) {
  switch (s) {
    case 0:
      return "CUBLAS_STATUS_SUCCESS";
    case 1:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case 8:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

}  // namespace cublas

namespace {

struct Loaded {
  cublas::Api api{};
  cublas::Handle handle = nullptr;
  int math_mode = -1;
  std::string error;  // why cuBLAS cannot be used, when it cannot
  std::string version;
};

#if !defined(ANN_CUDA_EMULATE)
// The _v2 names are what libcublas exports for the classic API; the plain name is the fallback.
template <class F>
bool bind(void* lib, F* slot, const char* v2, const char* plain, std::string* missing) {
  void* sym = dlsym(lib, v2);
  if (!sym && plain) sym = dlsym(lib, plain);
  if (!sym) {
    *missing += std::string(*missing == "" ? "" : ", ") + v2;
    return false;
  }
  *slot = reinterpret_cast<F>(sym);
  return true;
}

bool load_library(cublas::Api* api, std::string* error) {
  std::vector<std::string> tried;
  if (const char* path = std::getenv("ANN_CUBLAS_PATH"); path && *path)
    tried.push_back(path);
  else
    tried = {"libcublas.so.13", "libcublas.so.12"};
  std::string errors;
  void* lib = nullptr;
  for (const auto& name : tried) {
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      api->library = name;
      break;
    }
    const char* e = dlerror();
    errors += std::string(errors.empty() ? "" : "; ") + (e ? e : name + ": not found");
  }
  if (!lib) {
    *error = "cuBLAS not found (" + errors + "; set ANN_CUBLAS_PATH to libcublas.so)";
    return false;
  }
  std::string missing;
  bool ok = bind(lib, &api->create, "cublasCreate_v2", "cublasCreate", &missing);
  ok &= bind(lib, &api->destroy, "cublasDestroy_v2", "cublasDestroy", &missing);
  ok &= bind(lib, &api->set_stream, "cublasSetStream_v2", "cublasSetStream", &missing);
  ok &= bind(lib, &api->set_math_mode, "cublasSetMathMode", nullptr, &missing);
  ok &= bind(lib, &api->get_version, "cublasGetVersion_v2", "cublasGetVersion", &missing);
  ok &= bind(lib, &api->sgemm, "cublasSgemm_v2", "cublasSgemm", &missing);
  ok &= bind(lib, &api->sgemm_strided_batched, "cublasSgemmStridedBatched", nullptr, &missing);
  if (!ok) {
    *error = api->library + " lacks " + missing;
    return false;
  }
  return true;
}
#endif

Loaded& loaded() {
  static Loaded l;
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(ANN_CUDA_EMULATE)
    l.api = cublas::stand_in();
#else
    if (!load_library(&l.api, &l.error)) return;
#endif
    if (int s = l.api.create(&l.handle); s != cublas::kSuccess) {
      l.error = std::string("cublasCreate: ") + cublas::status_name(s);
      l.handle = nullptr;
      return;
    }
    int v = 0;
    if (l.api.get_version(l.handle, &v) == cublas::kSuccess)
      l.version =
          std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
  });
  return l;
}

void status_check(int s, const char* op, const char* what) {
  if (s != cublas::kSuccess) throw Error(std::string(op) + ": " + what + ": " + cublas::status_name(s));
}

// The handle, bound to the backend's stream and the current TF32 setting.
const Loaded& ready(const char* op) {
  Loaded& l = loaded();
  if (!l.handle) throw Error(std::string(op) + ": " + l.error);
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  static cudaStream_t bound = nullptr;
  if (bound != stream()) {
    status_check(l.api.set_stream(l.handle, stream()), op, "cublasSetStream");
    bound = stream();
  }
  const int mode = tf32() ? cublas::kTf32TensorOpMath : cublas::kDefaultMath;
  if (l.math_mode != mode) {
    status_check(l.api.set_math_mode(l.handle, mode), op, "cublasSetMathMode");
    l.math_mode = mode;
  }
  return l;
}

int to_int(int64_t v, const char* op, const char* name) {
  if (v < 0 || v > INT_MAX)
    throw Error(std::string(op) + ": " + name + " = " + std::to_string(v) +
                " is outside cuBLAS's 32-bit range");
  return static_cast<int>(v);
}

// With K = 0 a row-major [M,0] operand has leading dimension 0, which cuBLAS refuses (it wants at
// least 1) though it reads nothing: C becomes beta * C.
void min_leading_dims(int64_t* lda, int64_t* ldb) {
  *lda = std::max<int64_t>(*lda, 1);
  *ldb = std::max<int64_t>(*ldb, 1);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const char* op = "cuda sgemm";
  if (M <= 0 || N <= 0) return;
  if (K == 0) min_leading_dims(&lda, &ldb);
  const Loaded& l = ready(op);
  status_check(
      l.api.sgemm(l.handle, trans_b ? cublas::kOpT : cublas::kOpN, trans_a ? cublas::kOpT : cublas::kOpN,
                  to_int(N, op, "N"), to_int(M, op, "M"), to_int(K, op, "K"), &alpha, B,
                  to_int(ldb, op, "ldb"), A, to_int(lda, op, "lda"), &beta, C, to_int(ldc, op, "ldc")),
      op, "cublasSgemm");
}

void sgemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                           int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                           int64_t batch) {
  const char* op = "cuda sgemm_strided_batched";
  if (M <= 0 || N <= 0 || batch <= 0) return;
  if (K == 0) min_leading_dims(&lda, &ldb);
  const Loaded& l = ready(op);
  status_check(l.api.sgemm_strided_batched(
                   l.handle, trans_b ? cublas::kOpT : cublas::kOpN, trans_a ? cublas::kOpT : cublas::kOpN,
                   to_int(N, op, "N"), to_int(M, op, "M"), to_int(K, op, "K"), &alpha, B,
                   to_int(ldb, op, "ldb"), stride_b, A, to_int(lda, op, "lda"), stride_a, &beta, C,
                   to_int(ldc, op, "ldc"), stride_c, to_int(batch, op, "batch")),
               op, "cublasSgemmStridedBatched");
}

std::string blas_description() {
  const Loaded& l = loaded();
  if (!l.handle) return l.error;
  return "cuBLAS " + l.version + " (" + l.api.library + ")";
}

}  // namespace ann::cuda
