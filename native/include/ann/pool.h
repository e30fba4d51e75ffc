// Pooling kernels: max pool 2d, the fused pyramid pooling of ANN (all adaptive levels in one
// pass), and the position sampling / gathering of the paper's Table 7 ablation.
// Tensors are contiguous NCHW float32; indices are int32 flat positions h*W+w within a plane.
// Callers (the bindings) validate every shape, option and index (with find_bad_index) before calling.
#pragma once
#include <cstdint>
#include <vector>

namespace ann {

struct MaxPool2dParams {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil_mode;
};

// Position of the first of idx[0..n) outside [0, limit), or -1 when all lie inside: the check a
// binding runs on the tensor's device before a backward or a gather trusts saved or given indices.
int64_t find_bad_index(const int32_t* idx, int64_t n, int64_t limit);

// PyTorch's pooling output size (pooling_output_shape): with ceil_mode the last window must
// start inside the input or the left padding. May return < 1; the caller rejects that.
int64_t pool_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode);

// planes = B*C. y, indices: [planes, oh, ow]. Ties keep the first element in row-major window
// order; a NaN wins over numbers and the last NaN wins (PyTorch's CPU kernel).
void max_pool2d_forward(const float* x, float* y, int32_t* indices, int64_t planes, int64_t h, int64_t w,
                        int64_t oh, int64_t ow, const MaxPool2dParams& p);
// dx [planes, h, w] = sum of dy over the outputs whose index points at each pixel, accumulated
// per plane in output order (deterministic). indices must lie in [0, h*w).
void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t h,
                         int64_t w, int64_t oh, int64_t ow);

// Sum of n*n over the levels: the number of anchors S.
int64_t pyramid_total(const std::vector<int64_t>& sizes);

// y [planes, S]: each level's adaptive pooling (bins start = floor(i*H/n), end = ceil((i+1)*H/n)),
// flattened row-major, levels concatenated in order. One pass over each plane: the plane is
// reduced once onto the grid of elementary cells cut by every level's bin edges, and every bin
// is then assembled from those cells. indices [planes, S] for max (may be null for avg).
void pyramid_pool_forward(const float* x, float* y, int32_t* indices, int64_t planes, int64_t h, int64_t w,
                          const std::vector<int64_t>& sizes, bool max_mode);
// dx [planes, h, w]. avg: each pixel gathers dy/area from its containing bins (one value per
// elementary cell, broadcast). max: each plane's owner adds dy at the saved index in bin order;
// no atomics, deterministic. indices required for max, in [0, h*w).
void pyramid_pool_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t h,
                           int64_t w, const std::vector<int64_t>& sizes, bool max_mode);

// positions [batch, S]: one uniformly random pixel inside each bin of each level, flat h*W+w.
void sample_pyramid_positions(int32_t* positions, int64_t batch, int64_t h, int64_t w,
                              const std::vector<int64_t>& sizes, uint64_t seed);
// positions [batch, count]: count distinct positions uniformly over the h*w map (count <= h*w).
void sample_plain_positions(int32_t* positions, int64_t batch, int64_t h, int64_t w, int64_t count,
                            uint64_t seed);

// y [b, c, s] = x[b, c, positions[b, s]]; positions in [0, hw).
void gather_positions_forward(const float* x, const int32_t* positions, float* y, int64_t b, int64_t c,
                              int64_t hw, int64_t s);
// dx [b, c, hw]: repeated positions accumulate, in position order per plane (deterministic).
void gather_positions_backward(const float* dy, const int32_t* positions, float* dx, int64_t b, int64_t c,
                               int64_t hw, int64_t s);

}  // namespace ann
