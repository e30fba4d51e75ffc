// A convolution's output plane cut into rectangles in each of which every position reads the same
// taps inside the input; the other taps fall in the zero padding there and are skipped (at dilation
// d on a small map, whole bands of rows and columns see only part of the 3x3 kernel: 56% of the taps
// of a 3x3 dilation-4 conv on an 8x8 map are padding, 8% at 65x65).
//
// Per cut region, the columns hold only its taps, ordered (ki, kj, c): row ((ki - ki0) * nkj + kj - kj0)
// * Cin + c. The weight is read in the same order, [Cout, kh, kw, Cin] (conv_weight_taps_first), so a
// region's taps are one block of its columns when the region has every kj, else one block per ki.
#pragma once
#include <cstdint>
#include <vector>

#include "ann/conv.h"

namespace ann {

struct ConvRegion {
  int64_t oh0, oh1, ow0, ow1;  // output rows [oh0, oh1), columns [ow0, ow1)
  int64_t ki0, ki1, kj0, kj1;  // the taps inside the input for all of them
  // The one region of a plane not worth cutting: all taps, padding included (zeros in the columns),
  // ordered (c, ki, kj) as the weight [Cout, Cin, kh, kw] is, which is then used as it is.
  bool whole;
  int64_t size() const { return (oh1 - oh0) * (ow1 - ow0); }
  int64_t taps() const { return (ki1 - ki0) * (kj1 - kj0); }
};

// Outputs [lo, hi) of one axis that read the taps [klo, khi) inside the input (klo == khi: none).
struct Band {
  int64_t lo, hi, klo, khi;
};
// One axis's outputs in bands of equal taps, in order. Tap k of output o reads input
// o * stride - pad + k * dil; the taps inside [0, in) are contiguous.
std::vector<Band> axis_bands(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t dil);

// The regions, row bands outermost; they cover the output plane exactly once. One whole-plane
// region when skipping would not pay.
std::vector<ConvRegion> conv_regions(const Conv2dShape& s);

// A contiguous run of a region's column rows and the weight columns they meet (in the taps-first
// layout, whose rows are kh * kw * Cin long): rows [row, row + k) of the columns, weight columns
// [weight_col, weight_col + k).
struct TapBlock {
  int64_t row, weight_col, k;
};
std::vector<TapBlock> tap_blocks(const Conv2dShape& s, const ConvRegion& r);

// wt [Cout, kh, kw, Cin] from w [Cout, Cin, kh, kw].
void conv_weight_taps_first(const Conv2dShape& s, const float* w, float* wt);
// dw [Cout, Cin, kh, kw] = the sum of the `n_parts` gradients in parts (each Cout*K long, taps-first
// or in dw's own layout).
void conv_weight_from_parts(const Conv2dShape& s, const float* parts, int64_t n_parts, bool taps_first,
                            float* dw);

// The region's columns of one image x [Cin, H, W]: cols [taps * Cin, size].
void im2col_region(const Conv2dShape& s, const ConvRegion& r, const float* x, float* cols);
// dx [Cin, H, W] += the region's columns folded back (each channel by one thread, in a fixed order).
void col2im_region(const Conv2dShape& s, const ConvRegion& r, const float* cols, float* dx);

// y [Cout, Ho, Wo] over the region = part [Cout, size] (zero when null) + bias (when not null).
void scatter_region(const Conv2dShape& s, const ConvRegion& r, const float* part, const float* bias,
                    float* y);
// part [Cout, size] = dy [Cout, Ho, Wo] over the region.
void gather_region(const Conv2dShape& s, const ConvRegion& r, const float* dy, float* part);

}  // namespace ann
