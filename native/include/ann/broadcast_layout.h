// How a broadcasting elementwise op walks its operands, shared by the CPU and CUDA kernels
// (host-side shape arithmetic).
#pragma once
#include <cstdint>

#include "ann/common.h"
#include "ann/elementwise.h"

namespace ann {

// A broadcast of two operands onto an output, with size-1 dims dropped and adjacent dims merged
// wherever both operands stay contiguous across them, so that [B,C,H,W] + [1,C,1,1] becomes
// three dims [B, C, H*W] and a same-shape add becomes one flat loop.
struct BroadcastLayout {
  int rank = 0;
  int64_t size[kMaxRank];
  int64_t sa[kMaxRank];
  int64_t sb[kMaxRank];
};

inline BroadcastLayout broadcast_layout(const Shape& a, const Shape& b, const Shape& out) {
  const int R = static_cast<int>(out.size());
  int64_t size[kMaxRank], sa[kMaxRank], sb[kMaxRank];
  int64_t ca = 1, cb = 1;
  for (int d = R - 1; d >= 0; --d) {
    const int ia = d - (R - static_cast<int>(a.size())), ib = d - (R - static_cast<int>(b.size()));
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    size[d] = out[d];
    sa[d] = da == 1 ? 0 : ca;
    sb[d] = db == 1 ? 0 : cb;
    ca *= da;
    cb *= db;
  }
  BroadcastLayout L;
  // Walk from the innermost dim outwards, merging into the current innermost kept dim.
  int64_t rs[kMaxRank], ra[kMaxRank], rb[kMaxRank];
  int n = 0;
  for (int d = R - 1; d >= 0; --d) {
    if (size[d] == 1) continue;
    if (n > 0 && sa[d] == ra[n - 1] * rs[n - 1] && sb[d] == rb[n - 1] * rs[n - 1]) {
      rs[n - 1] *= size[d];
      continue;
    }
    rs[n] = size[d];
    ra[n] = sa[d];
    rb[n] = sb[d];
    ++n;
  }
  if (n == 0) {
    rs[0] = 1;
    ra[0] = rb[0] = 0;
    n = 1;
  }
  L.rank = n;
  for (int i = 0; i < n; ++i) {
    L.size[i] = rs[n - 1 - i];
    L.sa[i] = ra[n - 1 - i];
    L.sb[i] = rb[n - 1 - i];
  }
  return L;
}

}  // namespace ann
