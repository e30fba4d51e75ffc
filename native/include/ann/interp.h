// Bilinear resize of contiguous NCHW float32 planes, exactly PyTorch's
// F.interpolate(mode='bilinear', size=... | scale_factor=..., align_corners=...). Shapes are
// validated by the caller (the binding); the kernels trust them.
#pragma once
#include <cstdint>

namespace ann {

struct InterpShape {
  int64_t planes;        // B * C
  int64_t in_h, in_w;    // input plane
  int64_t out_h, out_w;  // output plane
  bool align_corners;
  // PyTorch's scale_factor per axis (output / input); > 0 makes an axis sample at 1 / scale
  // instead of in / out when align_corners is false. 0: none given.
  double scale_h = 0, scale_w = 0;
};

// y [planes, out_h, out_w] from x [planes, in_h, in_w].
void interpolate_bilinear_forward(const InterpShape& s, const float* x, float* y);

// dx [planes, in_h, in_w] (overwritten) from dy [planes, out_h, out_w]. Deterministic: each
// plane is accumulated serially by one thread, no atomics.
void interpolate_bilinear_backward(const InterpShape& s, const float* dy, float* dx);

}  // namespace ann
