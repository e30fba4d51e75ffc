// The pyramid's adaptive bins along one axis, shared by the CPU and CUDA pooling (host-side shape
// arithmetic). Along an axis of length L every level's bin edges cut [0, L) into elementary
// segments; each bin is a run of whole segments and every pixel of one segment lies in the same
// bins, so a plane is reduced once onto the segment grid (cells) and bins are assembled from cells.
// Bin edges as PyTorch's adaptive pooling: start = floor(i*L/n), end = ceil((i+1)*L/n).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace ann {

struct PyramidAxis {
  std::vector<int64_t> edges;         // sorted, unique, from 0 to L: segment k is [edges[k], edges[k+1])
  std::vector<int64_t> start, end;    // per bin of every level, levels concatenated: pixel range
  std::vector<int64_t> seg0, seg1;    // the same range in segments
  std::vector<int64_t> level_offset;  // first bin of each level
  int64_t segments() const { return static_cast<int64_t>(edges.size()) - 1; }
};

inline PyramidAxis pyramid_axis(int64_t len, const std::vector<int64_t>& sizes) {
  PyramidAxis a;
  for (int64_t n : sizes) {
    a.level_offset.push_back(static_cast<int64_t>(a.start.size()));
    for (int64_t i = 0; i < n; ++i) {
      a.start.push_back(i * len / n);
      a.end.push_back(((i + 1) * len + n - 1) / n);
    }
  }
  a.edges = a.start;
  a.edges.insert(a.edges.end(), a.end.begin(), a.end.end());
  std::sort(a.edges.begin(), a.edges.end());
  a.edges.erase(std::unique(a.edges.begin(), a.edges.end()), a.edges.end());
  for (size_t b = 0; b < a.start.size(); ++b) {
    a.seg0.push_back(std::lower_bound(a.edges.begin(), a.edges.end(), a.start[b]) - a.edges.begin());
    a.seg1.push_back(std::lower_bound(a.edges.begin(), a.edges.end(), a.end[b]) - a.edges.begin());
  }
  return a;
}

}  // namespace ann
