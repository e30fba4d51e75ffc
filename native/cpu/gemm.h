// Row-major single-precision GEMM on a real BLAS (OpenBLAS, one thread per call), split over
// the pool: C = alpha * op(A) * op(B) + beta * C, op(A) [M,K], op(B) [K,N], C [M,N].
#pragma once
#include <cstdint>

namespace ann {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same on the calling thread only: for small products inside a parallel_for.
void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Double precision on the calling thread: for the few products whose rounding a float32 result
// would carry into long sums (the attention backward).
void dgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

const char* blas_name();

}  // namespace ann
