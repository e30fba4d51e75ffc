// Layout copies: permute (any rank, after merging dims that stay adjacent) and the 2-D strided
// copy behind cat, split and narrow. A permute either keeps the innermost dim (row memcpys) or
// moves it, in which case it is a batch of 2-D transposes done in cache-sized tiles.
#include <algorithm>
#include <cstring>

#include "ann/elementwise.h"
#include "ann/permute_plan.h"
#include "parallel.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace ann {
namespace {

constexpr int64_t kGrain = 16384;
// Transpose tiles: up to 128 values along x's contiguous dim by 16 along y's (8 KiB), reshaped
// when either dim is short. The x rows of a tile are first copied into a small contiguous buffer:
// x's row stride is often a power of two (8192 floats for [B,256,8192]), and reading 16 such rows
// in lockstep maps them all to the same cache sets; from the buffer each y row segment (16
// floats, one cache line) is written whole.
constexpr int64_t kTileArea = 2048;

// dst[j * ldd + l] = src[l * lds + j] for j < nj, l < nl.
void transpose_tile(const float* src, int64_t lds, float* dst, int64_t ldd, int64_t nj, int64_t nl) {
  int64_t l = 0;
#if defined(__SSE2__)
  for (; l + 4 <= nl; l += 4) {
    int64_t j = 0;
    for (; j + 4 <= nj; j += 4) {
      __m128 r0 = _mm_loadu_ps(src + (l + 0) * lds + j);
      __m128 r1 = _mm_loadu_ps(src + (l + 1) * lds + j);
      __m128 r2 = _mm_loadu_ps(src + (l + 2) * lds + j);
      __m128 r3 = _mm_loadu_ps(src + (l + 3) * lds + j);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(dst + (j + 0) * ldd + l, r0);
      _mm_storeu_ps(dst + (j + 1) * ldd + l, r1);
      _mm_storeu_ps(dst + (j + 2) * ldd + l, r2);
      _mm_storeu_ps(dst + (j + 3) * ldd + l, r3);
    }
    for (; j < nj; ++j)
      for (int64_t k = 0; k < 4; ++k) dst[j * ldd + l + k] = src[(l + k) * lds + j];
  }
#endif
  for (; l < nl; ++l)
    for (int64_t j = 0; j < nj; ++j) dst[j * ldd + l] = src[l * lds + j];
}

}  // namespace

void permute(const float* x, const Shape& shape, const std::vector<int>& dims, float* y) {
  const PermutePlan plan = permute_plan(shape, dims);
  const int m = plan.rank;
  const int64_t total = plan.total, *os = plan.size, *ist = plan.in_stride, *ost = plan.out_stride;
  if (m <= 1) {
    copy(x, y, total);
    return;
  }

  if (ist[m - 1] == 1) {
    // The innermost dim stays innermost: copy rows of os[m-1] contiguous values.
    const int64_t len = os[m - 1], rows = total / len;
    parallel_for(rows, std::max<int64_t>(1, kGrain / len), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t rem = r, off = 0;
        for (int i = m - 2; i >= 0; --i) {
          off += (rem % os[i]) * ist[i];
          rem /= os[i];
        }
        std::memcpy(y + r * len, x + off, static_cast<size_t>(len) * sizeof(float));
      }
    });
    return;
  }

  // A batch of transposes between output dim J (contiguous in x) and the last output dim L.
  int J = 0;
  while (ist[J] != 1) ++J;
  const int64_t nj = os[J], nl = os[m - 1], lds = ist[m - 1], ldd = ost[J];
  int64_t bs[kMaxRank], bist[kMaxRank], bost[kMaxRank];
  int nb = 0;
  int64_t batch = 1;
  for (int i = 0; i < m - 1; ++i) {
    if (i == J) continue;
    bs[nb] = os[i];
    bist[nb] = ist[i];
    bost[nb] = ost[i];
    batch *= os[i];
    ++nb;
  }
  int64_t TJ = std::min<int64_t>(nj, 128), TL = std::min<int64_t>(nl, 16);
  if (TJ < 128)
    TL = std::min<int64_t>(nl, kTileArea / TJ / 16 * 16);
  else if (TL < 16)
    TJ = std::min<int64_t>(nj, kTileArea / TL / 4 * 4);
  const int64_t tj = (nj + TJ - 1) / TJ, tl = (nl + TL - 1) / TL;
  const int64_t tasks = batch * tj * tl;
  parallel_for(tasks, std::max<int64_t>(1, kGrain / (TJ * TL)), [&](int64_t b, int64_t e) {
    alignas(64) float buf[kTileArea];
    for (int64_t t = b; t < e; ++t) {
      const int64_t bi = t / (tj * tl), ti = t % (tj * tl);
      // Tiles walk along J fastest so consecutive tasks read neighbouring input.
      const int64_t l0 = (ti / tj) * TL, j0 = (ti % tj) * TJ;
      int64_t rem = bi, ioff = 0, ooff = 0;
      for (int i = nb - 1; i >= 0; --i) {
        const int64_t k = rem % bs[i];
        rem /= bs[i];
        ioff += k * bist[i];
        ooff += k * bost[i];
      }
      const int64_t cj = std::min(TJ, nj - j0), cl = std::min(TL, nl - l0);
      const float* src = x + ioff + l0 * lds + j0;
      for (int64_t l = 0; l < cl; ++l) std::memcpy(buf + l * cj, src + l * lds, cj * sizeof(float));
      transpose_tile(buf, cj, y + ooff + j0 * ldd + l0, ldd, cj, cl);
    }
  });
}

void copy2d(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  parallel_for(rows * cols, kGrain, [&](int64_t b, int64_t e) {
    int64_t r = b / cols, c = b % cols;
    for (int64_t i = b; i < e; ++r, c = 0) {
      const int64_t len = std::min(cols - c, e - i);
      std::memcpy(dst + r * dst_ld + c, src + r * src_ld + c, static_cast<size_t>(len) * sizeof(float));
      i += len;
    }
  });
}

}  // namespace ann
