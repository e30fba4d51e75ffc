// How reduce_sum walks its input, shared by the CPU and CUDA kernels (host-side shape arithmetic):
// the shape collapsed to alternating runs of reduced and kept dims (size-1 dims dropped, neighbours
// both reduced or both kept merged), the innermost run apart.
#pragma once
#include <cstdint>
#include <vector>

#include "ann/common.h"
#include "ann/elementwise.h"

namespace ann {

// An index space, outermost dim first, with its strides in the input.
struct StridedDims {
  int n = 0;
  int64_t size[kMaxRank];
  int64_t stride[kMaxRank];
};

struct ReducePlan {
  StridedDims kept, red;  // the outer kept and reduced runs, in order
  int64_t inner = 1;      // length of the innermost (contiguous) run
  bool inner_reduced = true;
  int64_t n_kept = 1, n_red = 1;  // outputs, and reduced outer rows per output
};

inline ReducePlan reduce_plan(const Shape& shape, const std::vector<bool>& reduce) {
  const int R = static_cast<int>(shape.size());
  int64_t cs[kMaxRank], cst[kMaxRank];
  bool cr[kMaxRank];
  int n = 0;
  int64_t stride = 1;
  for (int d = R - 1; d >= 0; --d) {
    const int64_t s = shape[d];
    if (s != 1) {
      if (n > 0 && cr[n - 1] == bool(reduce[d])) {
        cs[n - 1] *= s;
      } else {
        cs[n] = s;
        cst[n] = stride;
        cr[n] = reduce[d];
        ++n;
      }
    }
    stride *= s;
  }
  ReducePlan p;
  if (n > 0) {
    p.inner = cs[0];
    p.inner_reduced = cr[0];
  }
  for (int i = n - 1; i >= 1; --i) {
    StridedDims& dst = cr[i] ? p.red : p.kept;
    dst.size[dst.n] = cs[i];
    dst.stride[dst.n] = cst[i];
    ++dst.n;
  }
  for (int i = 0; i < p.kept.n; ++i) p.n_kept *= p.kept.size[i];
  for (int i = 0; i < p.red.n; ++i) p.n_red *= p.red.size[i];
  return p;
}

}  // namespace ann
