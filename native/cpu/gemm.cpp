#include "gemm.h"

#include <cblas.h>

#include <algorithm>
#include <mutex>

#include "parallel.h"

extern "C" void openblas_set_num_threads(int);

namespace ann {
namespace {

// All threading is the pool's: OpenBLAS runs each call on the calling thread. Set on first use,
// after OpenBLAS's own initialiser has certainly run.
void one_blas_thread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace

// One BLAS call on the calling thread; `gemm` is cblas_sgemm or cblas_dgemm.
template <typename T, typename Gemm>
void gemm_serial(Gemm gemm, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                 int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  one_blas_thread();
  gemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
       static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
       static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_serial(cblas_sgemm, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_serial(cblas_dgemm, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const int threads = num_threads();
  const double flops = 2.0 * M * N * std::max<int64_t>(K, 1);
  if (threads == 1 || in_parallel_region() || flops < 4.0e6) {
    sgemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the larger output dimension into per-thread slabs; each thread runs its own serial
  // BLAS call, so the BLAS never starts threads of its own.
  if (N >= M) {
    const int64_t per = ((N + threads - 1) / threads + 15) / 16 * 16;
    parallel_for((N + per - 1) / per, 1, [&](int64_t b, int64_t e) {
      for (int64_t s = b; s < e; ++s) {
        const int64_t j0 = s * per, nj = std::min(per, N - j0);
        const float* Bs = trans_b ? B + j0 * ldb : B + j0;
        sgemm_serial(trans_a, trans_b, M, nj, K, alpha, A, lda, Bs, ldb, beta, C + j0, ldc);
      }
    });
  } else {
    const int64_t per = ((M + threads - 1) / threads + 7) / 8 * 8;
    parallel_for((M + per - 1) / per, 1, [&](int64_t b, int64_t e) {
      for (int64_t s = b; s < e; ++s) {
        const int64_t i0 = s * per, mi = std::min(per, M - i0);
        const float* As = trans_a ? A + i0 : A + i0 * lda;
        sgemm_serial(trans_a, trans_b, mi, N, K, alpha, As, lda, B, ldb, beta, C + i0 * ldc, ldc);
      }
    });
  }
}

const char* blas_name() { return "OpenBLAS (one BLAS thread per call, split over the ann thread pool)"; }

}  // namespace ann
