// A direct convolution for small planes at stride 1: no im2col and no BLAS. The GEMM path pays its
// packing and im2col once per image and runs products only 81 columns wide on the small preset's 9x9
// maps (and 1-16 wide in the regions that skip padding taps); here every output pixel of the batch is
// one row of a register tile (pixels x Cout vectors), and the padding taps are skipped by grouping
// the pixels that see the same taps, across the images of the batch.
//
// Each output element is summed by one thread in a fixed order (taps row by row, channels in order
// within a tap), so results do not depend on the thread count. Products are summed in float over
// runs of about 64 and the runs in double (below 8 channels in double outright): see
// conv_direct.cpp for why.
#pragma once
#include "ann/conv.h"

namespace ann {

// Whether conv2d_forward and conv2d_backward (data and weight gradients) take the direct path for s.
bool conv_direct_fits(const Conv2dShape& s);

// As conv2d_forward, for a shape conv_direct_fits accepts.
void conv_direct_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                         float* y);

// dx [B, Cin, H, W] from dy [B, Cout, Ho, Wo], overwritten: at stride 1 the same convolution of dy
// with the kernel flipped, Cin and Cout swapped and padding (k - 1) * dilation - pad.
void conv_direct_data_grad(const Conv2dShape& s, const float* dy, const float* weight, float* dx);

// dweight [Cout, Cin, kh, kw] from dy and x, overwritten. Per tap a sum over the output pixels
// whose tap falls inside x: image by image, each image's pixels summed from zero.
void conv_direct_weight_grad(const Conv2dShape& s, const float* dy, const float* x, float* dweight);

}  // namespace ann
