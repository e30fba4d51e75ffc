// Batch normalisation over contiguous float32 [B, C, S] (S = H*W for NCHW, 1 for [B, C] input),
// PyTorch semantics. Shapes are validated by the caller (the binding); the kernels trust them.
// weight/bias (the affine parameters) may be null: weight 1, bias 0.
#pragma once
#include <cstdint>

namespace ann {

struct BatchNormShape {
  int64_t batch, channels, spatial;
  int64_t count() const { return batch * spatial; }  // values per channel
};

// Training: normalises with the batch statistics (biased variance); save_mean/save_invstd [C] get
// the batch mean and 1/sqrt(var + eps). When running_mean/running_var are given they are updated
// in place: r = (1 - momentum) * r + momentum * stat, with the unbiased variance for running_var.
// Statistics are accumulated in double (two passes), so large B*H*W keeps its precision.
void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, double momentum, double eps, float* y,
                              float* save_mean, float* save_invstd);

// Evaluation: normalises with the running statistics; save_mean/save_invstd get running_mean and
// 1/sqrt(running_var + eps), which is what batch_norm_backward then needs.
void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, double eps, float* y,
                             float* save_mean, float* save_invstd);

// Gradients from dy; any output pointer may be null to skip it. In training the mean and invstd
// are functions of x (the full batch-norm gradient); in evaluation they are constants.
void batch_norm_backward(const BatchNormShape& s, const float* dy, const float* x, const float* weight,
                         const float* save_mean, const float* save_invstd, bool training, float* dx,
                         float* dweight, float* dbias);

}  // namespace ann
