// 2-D convolution (groups = 1) over contiguous NCHW float32, PyTorch semantics. Shapes are
// validated by the caller (the binding); the kernels trust them.
#pragma once
#include <cstdint>

namespace ann {

struct Conv2dShape {
  int64_t batch, in_channels, height, width;  // x [B, Cin, H, W]
  int64_t out_channels, kernel_h, kernel_w;   // weight [Cout, Cin, kh, kw]
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;

  // PyTorch's formula: floor((H + 2p - d(k-1) - 1) / s) + 1; may be <= 0 for invalid shapes.
  int64_t out_height() const { return out_size(height, pad_h, dilation_h, kernel_h, stride_h); }
  int64_t out_width() const { return out_size(width, pad_w, dilation_w, kernel_w, stride_w); }
  // 1x1, stride 1, no padding: the convolution is one GEMM per image, with no im2col.
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
  static int64_t out_size(int64_t in, int64_t pad, int64_t dil, int64_t k, int64_t stride) {
    const int64_t span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
  }
};

// y [B, Cout, Ho, Wo] = conv(x, weight) + bias; bias may be null.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y);

// Gradients from dy [B, Cout, Ho, Wo]; each output pointer may be null to skip that gradient.
// dx [B, Cin, H, W], dweight [Cout, Cin, kh, kw], dbias [Cout] are overwritten, not accumulated.
// Deterministic: no atomics; the summation order depends only on the shapes and the thread count.
void conv2d_backward(const Conv2dShape& s, const float* dy, const float* x, const float* weight, float* dx,
                     float* dweight, float* dbias);

// The 1x1 convolution over cat([a, b], channels) without the concatenation: y [B, Cout, HW] =
// wa [Cout, Ca] a_i + wb [Cout, Cb] b_i + bias for each image i of a [B, Ca, HW] and b [B, Cb, HW],
// two GEMMs accumulating into one output. bias may be null. Its backward is two conv2d_backward
// calls, one per input (dy is shared).
void conv1x1_pair_forward(int64_t B, int64_t HW, int64_t Cout, int64_t Ca, int64_t Cb, const float* a,
                          const float* wa, const float* b, const float* wb, const float* bias, float* y);

}  // namespace ann
