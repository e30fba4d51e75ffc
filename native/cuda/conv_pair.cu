// The fuse conv over cat([a, b]) without the concatenation, as on the CPU (native/cpu/conv_pair.cpp):
// the first input's pointwise conv (with the bias) writes y, the second's GEMM adds onto it.
#include "ann/conv.h"
#include "blas.h"
#include "runtime.h"

namespace ann::cuda {

void conv1x1_pair_forward(int64_t B, int64_t HW, int64_t Cout, int64_t Ca, int64_t Cb, const float* a,
                          const float* wa, const float* b, const float* wb, const float* bias, float* y) {
  if (B == 0 || Cout == 0 || HW == 0) return;
  const Conv2dShape first{B, Ca, HW, 1, Cout, 1, 1, 1, 1, 0, 0, 1, 1};
  conv2d_forward(first, a, wa, bias, y);
  sgemm_strided_batched(false, false, Cout, HW, Cb, 1.0f, wb, Cb, 0, b, HW, Cb * HW, 1.0f, y, HW, Cout * HW,
                        B);
}

}  // namespace ann::cuda
