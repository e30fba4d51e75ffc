// Batched matrix product on ann::sgemm. A shared, untransposed-A product is one tall GEMM; else
// many small products go one per thread (sgemm_serial), and few large ones are each split by sgemm.
#include <algorithm>

#include "ann/elementwise.h"
#include "gemm.h"
#include "parallel.h"

namespace ann {

void matmul(const float* a, const float* b, float* y, int64_t batch, bool a_shared, bool b_shared, int64_t M,
            int64_t N, int64_t K, bool trans_a, bool trans_b) {
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  if (b_shared && !trans_a && !a_shared) {
    // [batch*M, K] @ [K, N]: the batch rows stack into one product.
    sgemm(false, trans_b, batch * M, N, K, 1.f, a, lda, b, ldb, 0.f, y, N);
    return;
  }
  const int64_t sa = a_shared ? 0 : M * K, sb = b_shared ? 0 : K * N, sy = M * N;
  const int threads = num_threads();
  const double flops = 2.0 * M * N * K;
  const bool by_batch = threads > 1 && (batch % threads == 0 || batch >= 4 * threads || flops < 4.0e6);
  if (by_batch) {
    parallel_for(batch, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        sgemm_serial(trans_a, trans_b, M, N, K, 1.f, a + i * sa, lda, b + i * sb, ldb, 0.f, y + i * sy, N);
    });
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    sgemm(trans_a, trans_b, M, N, K, 1.f, a + i * sa, lda, b + i * sb, ldb, 0.f, y + i * sy, N);
}

}  // namespace ann
