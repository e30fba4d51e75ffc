// SGD on the GPU, the twin of cpu/optim.cpp and bit-identical to it: each element's update in
// double with the same roundings in the same order (explicit _rn ops, so nothing is fused), the
// momentum buffer stored in float32 as torch's is.
#include "ann/optim.h"
#include "runtime.h"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void sgd_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                           int64_t n, double lr, double wd, double mom, double keep, bool use_mom,
                           bool nesterov, bool first) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const double pv = p[i];
    const double d = __dadd_rn(static_cast<double>(g[i]), __dmul_rn(wd, pv));
    if (!use_mom) {
      p[i] = static_cast<float>(__dsub_rn(pv, __dmul_rn(lr, d)));
      continue;
    }
    const float nb = static_cast<float>(
        first ? d : __dadd_rn(__dmul_rn(mom, static_cast<double>(m[i])), __dmul_rn(keep, d)));
    m[i] = nb;
    const double step =
        nesterov ? __dadd_rn(d, __dmul_rn(mom, static_cast<double>(nb))) : static_cast<double>(nb);
    p[i] = static_cast<float>(__dsub_rn(pv, __dmul_rn(lr, step)));
  }
}

}  // namespace

void sgd_step(float* param, const float* grad, float* buf, int64_t n, const SgdOptions& o) {
  if (n <= 0) return;
  ANN_LAUNCH("sgd_step", sgd_kernel, stride_blocks(n, kThreads), kThreads, 0, param, grad, buf, n, o.lr,
             o.weight_decay, o.momentum, 1.0 - o.dampening, o.momentum != 0, o.nesterov, o.first_step);
}

}  // namespace ann::cuda
