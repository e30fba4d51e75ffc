// Optimiser updates, applied in place to contiguous float32 parameters.
#pragma once
#include <cstdint>

namespace ann {

struct SgdOptions {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  // With momentum: the buffer is initialised to d_p instead of being decayed (torch's first step).
  bool first_step = false;
};

// One torch.optim.SGD step on n values:
//   d_p = grad + weight_decay * param
//   buf = first_step ? d_p : momentum * buf + (1 - dampening) * d_p      (when momentum != 0)
//   d_p = nesterov ? d_p + momentum * buf : buf                          (when momentum != 0)
//   param -= lr * d_p
// momentum_buffer may be null when momentum == 0.
void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n, const SgdOptions& o);

}  // namespace ann
