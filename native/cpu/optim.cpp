// SGD as torch.optim.SGD, one pass over memory. Each element's update is evaluated in double and
// rounded once per stored value, so the float32 result is at least as close to the exact update as
// PyTorch's sequence of float32 ops.
#include "ann/optim.h"

#include "parallel.h"

namespace ann {

void sgd_step(float* param, const float* grad, float* buf, int64_t n, const SgdOptions& o) {
  const double lr = o.lr, wd = o.weight_decay, mom = o.momentum, keep = 1.0 - o.dampening;
  const bool use_mom = mom != 0, nesterov = o.nesterov, first = o.first_step;
  parallel_for(n, 16384, [=](int64_t b, int64_t e) {
    float* __restrict p = param;
    const float* __restrict g = grad;
    float* __restrict m = buf;
    if (!use_mom) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<float>(p[i] - lr * (g[i] + wd * p[i]));
      return;
    }
    for (int64_t i = b; i < e; ++i) {
      const double d = g[i] + wd * p[i];
      // The buffer is stored in float32 as torch's is; the step uses that stored value.
      const float nb = static_cast<float>(first ? d : mom * m[i] + keep * d);
      m[i] = nb;
      const double step = nesterov ? d + mom * nb : nb;
      p[i] = static_cast<float>(p[i] - lr * step);
    }
  });
}

}  // namespace ann
