// Row-major GEMMs on the backend's stream through cuBLAS, mirroring ann::sgemm (include/ann/gemm.h):
// C = alpha * op(A) * op(B) + beta * C, op(A) [M,K], op(B) [K,N], C [M,N], all device pointers.
// cuBLAS is loaded on first use; its absence or a failed call throws ann::Error naming the op.
#pragma once
#include <cstdint>
#include <string>

namespace ann::cuda {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// batch products C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i], matrix i at A + i * stride_a,
// ... (a stride of 0 shares one matrix across the batch).
void sgemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                           int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                           int64_t batch);

// "cuBLAS 13.1.0 (libcublas.so.13)", or why cuBLAS cannot be used.
std::string blas_description();

}  // namespace ann::cuda
