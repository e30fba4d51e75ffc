// The few cuBLAS entry points the backend uses, declared here (the build machines have no cuBLAS
// headers or library) and found at run time: dlopen of libcublas.so.13, then .so.12, or the file
// ANN_CUBLAS_PATH names. The emulated build gets a CPU stand-in with the same column-major contract.
#pragma once
#include <string>

#include "runtime.h"

namespace ann::cuda::cublas {

struct Context;
using Handle = Context*;

// cublasStatus_t, cublasOperation_t and cublasMath_t values, as cublas_api.h defines them.
constexpr int kSuccess = 0;
constexpr int kInvalidValue = 7;
constexpr int kOpN = 0;
constexpr int kOpT = 1;
constexpr int kDefaultMath = 0;
constexpr int kTf32TensorOpMath = 3;

struct Api {
  int (*create)(Handle*);
  int (*destroy)(Handle);
  int (*set_stream)(Handle, cudaStream_t);
  int (*set_math_mode)(Handle, int);
  int (*get_version)(Handle, int*);
  // Column-major C = alpha * op(A) op(B) + beta * C, C [m,n].
  int (*sgemm)(Handle, int transa, int transb, int m, int n, int k, const float* alpha, const float* A,
               int lda, const float* B, int ldb, const float* beta, float* C, int ldc);
  int (*sgemm_strided_batched)(Handle, int transa, int transb, int m, int n, int k, const float* alpha,
                               const float* A, int lda, long long stride_a, const float* B, int ldb,
                               long long stride_b, const float* beta, float* C, int ldc, long long stride_c,
                               int batch);
  std::string library;  // the file loaded, or "stand-in (OpenBLAS)"
};

// "CUBLAS_STATUS_INVALID_VALUE" for 7, ...
const char* status_name(int status);

#if defined(ANN_CUDA_EMULATE)
// emu/cublas_stand_in.cpp: cuBLAS's column-major semantics on OpenBLAS, argument checks included.
const Api& stand_in();
#endif

}  // namespace ann::cuda::cublas
