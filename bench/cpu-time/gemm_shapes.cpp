// The floor under the fused attention at S = 110: OpenBLAS's single-thread rate (thread CPU time, min of 5)
// on each of its six products, as the kernels call them (row tiles of R queries), and on 2048^3.
//   g++ -O2 bench/cpu-time/gemm_shapes.cpp -I/usr/include/x86_64-linux-gnu/openblas-pthread \
//     /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a -lpthread -lm -o /tmp/gemm_shapes
//   env -u OPENBLAS_CORETYPE /tmp/gemm_shapes
#include <cblas.h>
#include <ctime>

#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" void openblas_set_num_threads(int);

static double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main() {
  openblas_set_num_threads(1);
  const int S = 110, C = 256, N = 32768;
  std::vector<float> A(N * C), P(N * S), B(S * C), O(N * C), T(S * C);
  for (auto* v : {&A, &P, &B})
    for (auto& x : *v) x = std::rand() / static_cast<float>(RAND_MAX);
  const char* names[] = {"P^T dO, dS^T q: TN M=S N=C K=R", "q k^T, dO v^T: NT M=R N=S K=C",
                         "P v, dS k:     NN M=R N=C K=S"};
  for (int R : {256, 512}) {
    for (int w = 0; w < 3; ++w) {
      double best = 1e9;
      for (int rep = 0; rep < 5; ++rep) {
        const double t0 = cpu_s();
        for (int i0 = 0; i0 < N; i0 += R) {
          float *Pt = P.data() + i0 * S, *At = A.data() + i0 * C;
          if (w == 0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, C, R, 1.f, Pt, S, At, C, 0.f, T.data(), C);
          if (w == 1)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, S, C, 1.f, At, C, B.data(), C, 0.f, Pt, S);
          if (w == 2)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, C, S, 1.f, Pt, S, B.data(), C, 0.f,
                        O.data() + i0 * C, C);
        }
        const double dt = cpu_s() - t0;
        if (dt < best) best = dt;
      }
      std::printf("R=%d %s  %.1f GFLOP/s  %.1f ms for N=%d\n", R, names[w], 2.0 * N * S * C / best / 1e9,
                  best * 1e3, N);
    }
  }
  const int M = 2048;
  std::vector<float> X(M * M, 1.f), Y(M * M, 1.f), Z(M * M);
  double best = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = cpu_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, M, M, 1.f, X.data(), M, Y.data(), M, 0.f, Z.data(), M);
    const double dt = cpu_s() - t0;
    if (dt < best) best = dt;
  }
  std::printf("2048^3  %.1f GFLOP/s\n", 2.0 * M * M * M / best / 1e9);
}
