// How permute walks its input, shared by the CPU and CUDA kernels (host-side shape arithmetic):
// the output dims (outermost first) with their input strides, size-1 dims dropped, and an output
// dim merged into the next inner one when the two are also adjacent, in order, in the input.
#pragma once
#include <cstdint>
#include <vector>

#include "ann/common.h"
#include "ann/elementwise.h"

namespace ann {

struct PermutePlan {
  int rank = 0;
  int64_t size[kMaxRank];        // output dims, outermost first
  int64_t in_stride[kMaxRank];   // their strides in x
  int64_t out_stride[kMaxRank];  // their strides in y
  int64_t total = 1;             // elements
};

inline PermutePlan permute_plan(const Shape& shape, const std::vector<int>& dims) {
  const int R = static_cast<int>(shape.size());
  int64_t in_stride[kMaxRank];
  PermutePlan p;
  for (int d = R - 1; d >= 0; --d) {
    in_stride[d] = p.total;
    p.total *= shape[d];
  }
  int m = 0;
  for (int i = 0; i < R; ++i) {
    const int64_t sz = shape[dims[i]];
    if (sz == 1) continue;
    const int64_t st = in_stride[dims[i]];
    if (m > 0 && p.in_stride[m - 1] == st * sz) {
      p.size[m - 1] *= sz;
      p.in_stride[m - 1] = st;
      continue;
    }
    p.size[m] = sz;
    p.in_stride[m] = st;
    ++m;
  }
  p.rank = m;
  int64_t s = 1;
  for (int i = m - 1; i >= 0; --i) {
    p.out_stride[i] = s;
    s *= p.size[i];
  }
  return p;
}

}  // namespace ann
