// cuBLAS's contract on the CPU for the emulated build: column-major operands, cuBLAS's argument
// checks (a leading dimension too small is CUBLAS_STATUS_INVALID_VALUE), beta == 0 never reading C,
// computed by OpenBLAS with CblasColMajor, so a wrong transpose or leading dimension in the
// row-major wrappers (blas.cpp) gives wrong numbers or a failed status here, as on a GPU.
// CUBLAS_TF32_TENSOR_OP_MATH is emulated as the tensor cores compute: each input rounded to TF32
// (10 mantissa bits, round to nearest even), the products accumulated in float32.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "../cublas_api.h"

extern "C" void openblas_set_num_threads(int);

namespace ann::cuda::cublas {

struct Context {
  cudaStream_t stream = nullptr;
  int math_mode = kDefaultMath;
};

namespace {

int create(Handle* h) {
  if (!h) return kInvalidValue;
  *h = new Context();
  return kSuccess;
}
int destroy(Handle h) {
  delete h;
  return kSuccess;
}
int set_stream(Handle h, cudaStream_t s) {
  if (!h) return 1;
  h->stream = s;
  return kSuccess;
}
int set_math_mode(Handle h, int mode) {
  if (!h) return 1;
  if (mode != kDefaultMath && mode != kTf32TensorOpMath) return kInvalidValue;
  h->math_mode = mode;
  return kSuccess;
}
int get_version(Handle h, int* v) {
  if (!h || !v) return kInvalidValue;
  *v = 130000;  // reports as cuBLAS 13.0.0
  return kSuccess;
}

bool bad_args(Handle h, int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
  if (!h) return true;
  if ((ta != kOpN && ta != kOpT) || (tb != kOpN && tb != kOpT)) return true;
  if (m < 0 || n < 0 || k < 0) return true;
  if (lda < std::max(1, ta == kOpN ? m : k)) return true;
  if (ldb < std::max(1, tb == kOpN ? k : n)) return true;
  return ldc < std::max(1, m);
}

// x rounded to TF32: the low 13 of float32's 23 mantissa bits dropped, to nearest, ties to even.
float to_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf and NaN pass through
  u += 0x0fffu + ((u >> 13) & 1u);
  u &= 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// A column-major operand of `rows` x `cols` (leading dimension ld) rounded to TF32, in `copy`.
const float* tf32_copy(const float* X, int rows, int cols, int ld, std::vector<float>* copy) {
  copy->assign(X, X + static_cast<int64_t>(ld) * (cols - 1) + rows);
  for (float& v : *copy) v = to_tf32(v);
  return copy->data();
}

void one_gemm(bool tf32, int ta, int tb, int m, int n, int k, float alpha, const float* A, int lda,
              const float* B, int ldb, float beta, float* C, int ldc) {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  if (m == 0 || n == 0) return;
  if (beta == 0.f)  // cuBLAS does not read C when beta is 0, so NaN there must not leak through
    for (int j = 0; j < n; ++j)
      std::fill(C + static_cast<int64_t>(j) * ldc, C + static_cast<int64_t>(j) * ldc + m, 0.f);
  if (k == 0) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) C[static_cast<int64_t>(j) * ldc + i] *= beta;
    return;
  }
  std::vector<float> a32, b32;
  if (tf32) {
    A = tf32_copy(A, ta == kOpN ? m : k, ta == kOpN ? k : m, lda, &a32);
    B = tf32_copy(B, tb == kOpN ? k : n, tb == kOpN ? n : k, ldb, &b32);
  }
  cblas_sgemm(CblasColMajor, ta == kOpT ? CblasTrans : CblasNoTrans, tb == kOpT ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

int sgemm(Handle h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
          const float* B, int ldb, const float* beta, float* C, int ldc) {
  if (bad_args(h, ta, tb, m, n, k, lda, ldb, ldc) || !alpha || !beta) return kInvalidValue;
  one_gemm(h->math_mode == kTf32TensorOpMath, ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
  return kSuccess;
}

int sgemm_strided_batched(Handle h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A,
                          int lda, long long sa, const float* B, int ldb, long long sb, const float* beta,
                          float* C, int ldc, long long sc, int batch) {
  if (bad_args(h, ta, tb, m, n, k, lda, ldb, ldc) || !alpha || !beta || batch < 0) return kInvalidValue;
  for (int i = 0; i < batch; ++i)
    one_gemm(h->math_mode == kTf32TensorOpMath, ta, tb, m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb,
             *beta, C + i * sc, ldc);
  return kSuccess;
}

}  // namespace

const Api& stand_in() {
  static const Api api{create,
                       destroy,
                       set_stream,
                       set_math_mode,
                       get_version,
                       sgemm,
                       sgemm_strided_batched,
                       "stand-in on OpenBLAS"};
  return api;
}

}  // namespace ann::cuda::cublas
