// Host-side tables of the pyramid's adaptive bins, uploaded for the CUDA pooling kernels. Along
// one axis of length L every level's bin edges cut [0, L) into elementary segments; a bin is a
// run of whole segments and every pixel of a segment lies in the same bins, so a plane reduces
// once onto the segment grid (cells) and every bin is assembled from cells (ann/pyramid_axis.h).
#pragma once
#include <cstdint>
#include <vector>

#include "ann/pyramid_axis.h"

namespace ann::cuda {

struct PyramidBins {
  int32_t S = 0, R = 0, Cs = 0;  // anchors, row segments, column segments
  // One int32 table, in this order: row edges [R + 1], column edges [Cs + 1], per anchor s the
  // 8 values {row start, row end, first row segment, end row segment, the same for columns},
  // the row segment of each pixel row [h] and the column segment of each pixel column [w].
  std::vector<int32_t> table;
  int64_t row_edges() const { return 0; }
  int64_t col_edges() const { return R + 1; }
  int64_t bins() const { return R + 1 + Cs + 1; }
  int64_t row_segment() const { return bins() + 8 * int64_t(S); }
  int64_t col_segment(int64_t h) const { return row_segment() + h; }
};

inline PyramidBins pyramid_bins(int64_t h, int64_t w, const std::vector<int64_t>& sizes) {
  const PyramidAxis ay = pyramid_axis(h, sizes), ax = pyramid_axis(w, sizes);
  PyramidBins p;
  p.R = static_cast<int32_t>(ay.edges.size() - 1);
  p.Cs = static_cast<int32_t>(ax.edges.size() - 1);
  std::vector<int32_t>& t = p.table;
  for (int64_t e : ay.edges) t.push_back(static_cast<int32_t>(e));
  for (int64_t e : ax.edges) t.push_back(static_cast<int32_t>(e));
  int64_t offset = 0;  // first bin of the level along each axis
  for (int64_t n : sizes) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t bi = offset + i, bj = offset + j;
        for (int64_t v : {ay.start[bi], ay.end[bi], ay.seg0[bi], ay.seg1[bi], ax.start[bj], ax.end[bj],
                          ax.seg0[bj], ax.seg1[bj]})
          t.push_back(static_cast<int32_t>(v));
        ++p.S;
      }
    offset += n;
  }
  for (int32_t r = 0; r < p.R; ++r)
    for (int64_t y = ay.edges[r]; y < ay.edges[r + 1]; ++y) t.push_back(r);
  for (int32_t c = 0; c < p.Cs; ++c)
    for (int64_t x = ax.edges[c]; x < ax.edges[c + 1]; ++x) t.push_back(c);
  return p;
}

}  // namespace ann::cuda
