// One dispatch for every binding: ANN_DISPATCH(device, op, X, args...) calls the kernel X for that
// device (ann::X on the CPU, ann::cuda::X on CUDA; include/ann/cuda.h states the contract) and
// returns what it returns.
//
// The CUDA twins are declared here once, weak and typed from the CPU declaration, so a CUDA build
// that lacks some of them still links and loads: a missing one is a null address, and calling it
// fails with "op: no CUDA kernel for X in this build". Adding a kernel to a family header means
// adding its name to ANN_KERNELS.
#pragma once
#include <string>
#include <vector>

#include "ann/attention.h"
#include "ann/common.h"
#include "ann/conv.h"
#include "ann/elementwise.h"
#include "ann/interp.h"
#include "ann/loss.h"
#include "ann/norm.h"
#include "ann/optim.h"
#include "ann/pool.h"

// Every kernel of include/ann (pure shape arithmetic excluded: pool_output_size, pyramid_total,
// broadcast_shapes run on the host for both devices).
// clang-format off
#define ANN_KERNELS(X)                                                                                   \
  /* attention */ X(attention_forward) X(attention_backward) X(attention_weights)                        \
  /* conv */ X(conv2d_forward) X(conv2d_backward) X(conv1x1_pair_forward)                                                        \
  /* elementwise */ X(relu) X(relu_backward) X(affine) X(axpy_inplace) X(copy) X(fill) X(binary)        \
  X(broadcast_to) X(reduce_sum) X(permute) X(copy2d) X(matmul) X(dropout_mask) X(channel_scale)         \
  /* interp */ X(interpolate_bilinear_forward) X(interpolate_bilinear_backward)                          \
  /* loss */ X(softmax_forward) X(softmax_backward) X(argmax) X(find_bad_target)                         \
  X(cross_entropy_forward) X(cross_entropy_backward) X(ohem_cross_entropy_forward)                       \
  X(ohem_cross_entropy_backward)                                                                         \
  /* norm */ X(batch_norm_forward_train) X(batch_norm_forward_eval) X(batch_norm_backward)               \
  /* optim */ X(sgd_step)                                                                                \
  /* pool */ X(find_bad_index) X(max_pool2d_forward) X(max_pool2d_backward) X(pyramid_pool_forward)     \
  X(pyramid_pool_backward) X(sample_pyramid_positions) X(sample_plain_positions)                         \
  X(gather_positions_forward) X(gather_positions_backward)
// clang-format on

namespace ann::cuda {
#define ANN_CUDA_TWIN(name) __attribute__((weak, visibility("hidden"))) decltype(::ann::name) name;
ANN_KERNELS(ANN_CUDA_TWIN)
#undef ANN_CUDA_TWIN
}  // namespace ann::cuda

namespace ann::napi {

[[noreturn]] void fail_no_cuda_kernel(const char* op, const char* kernel);

template <typename F>
F* kernel_for(Device device, const char* op, const char* kernel, F* cpu, F* cuda) {
  if (device == Device::CPU) return cpu;
  if (!cuda) fail_no_cuda_kernel(op, kernel);
  return cuda;
}

// The kernels this build's CUDA backend lacks (all of them in a build without ANN_WITH_CUDA).
std::vector<std::string> missing_cuda_kernels();

}  // namespace ann::napi

#define ANN_DISPATCH(device, op, name, ...) \
  ::ann::napi::kernel_for((device), (op), #name, &::ann::name, &::ann::cuda::name)(__VA_ARGS__)
