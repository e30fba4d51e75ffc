// Random anchor positions for the paper's Table 7 ablation (pyramid vs plain sampling) and the
// gather that reads features at them. The generator is our own (splitmix64 with Lemire's
// unbiased bounded draw), with one stream per batch item, so results do not depend on threads.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "alloc.h"
#include "ann/pool.h"
#include "parallel.h"

namespace ann {
namespace {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t s = seed;
    state_ = splitmix64(s) ^ (stream * 0xD1B54A32D192ED03ull);
  }
  // Uniform in [0, range), range in [1, 2^32).
  uint32_t below(uint32_t range) {
    uint64_t m = uint64_t(next32()) * range;
    uint32_t low = static_cast<uint32_t>(m);
    if (low < range) {
      const uint32_t threshold = static_cast<uint32_t>(-range) % range;
      while (low < threshold) {
        m = uint64_t(next32()) * range;
        low = static_cast<uint32_t>(m);
      }
    }
    return static_cast<uint32_t>(m >> 32);
  }

 private:
  uint32_t next32() { return static_cast<uint32_t>(splitmix64(state_) >> 32); }
  uint64_t state_;
};

}  // namespace

void sample_pyramid_positions(int32_t* positions, int64_t batch, int64_t h, int64_t w,
                              const std::vector<int64_t>& sizes, uint64_t seed) {
  const int64_t S = pyramid_total(sizes);
  for (int64_t b = 0; b < batch; ++b) {
    Rng rng(seed, static_cast<uint64_t>(b));
    int32_t* out = positions + b * S;
    for (int64_t n : sizes)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t y0 = i * h / n, y1 = ((i + 1) * h + n - 1) / n;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t x0 = j * w / n, x1 = ((j + 1) * w + n - 1) / n;
          const int64_t yy = y0 + rng.below(static_cast<uint32_t>(y1 - y0));
          const int64_t xx = x0 + rng.below(static_cast<uint32_t>(x1 - x0));
          *out++ = static_cast<int32_t>(yy * w + xx);
        }
      }
  }
}

void sample_plain_positions(int32_t* positions, int64_t batch, int64_t h, int64_t w, int64_t count,
                            uint64_t seed) {
  const int64_t hw = h * w;
  for (int64_t b = 0; b < batch; ++b) {
    Rng rng(seed, static_cast<uint64_t>(b));
    int32_t* out = positions + b * count;
    // Partial Fisher-Yates over the identity permutation of [0, hw), storing only moved entries.
    std::unordered_map<int64_t, int64_t> moved;
    auto at = [&](int64_t k) {
      auto it = moved.find(k);
      return it == moved.end() ? k : it->second;
    };
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i + rng.below(static_cast<uint32_t>(hw - i));
      const int64_t vi = at(i), vj = at(j);
      moved[j] = vi;
      out[i] = static_cast<int32_t>(vj);
    }
  }
}

void gather_positions_forward(const float* x, const int32_t* positions, float* y, int64_t b, int64_t c,
                              int64_t hw, int64_t s) {
  parallel_for(b * c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* xp = x + p * hw;
      const int32_t* pos = positions + (p / c) * s;
      float* yp = y + p * s;
      for (int64_t k = 0; k < s; ++k) yp[k] = xp[pos[k]];
    }
  });
}

void gather_positions_backward(const float* dy, const int32_t* positions, float* dx, int64_t b, int64_t c,
                               int64_t hw, int64_t s) {
  parallel_for(b * c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      float* d = dx + p * hw;
      std::memset(d, 0, static_cast<size_t>(hw) * sizeof(float));
      const int32_t* pos = positions + (p / c) * s;
      const float* g = dy + p * s;
      for (int64_t k = 0; k < s; ++k) d[pos[k]] += g[k];
    }
  });
}

}  // namespace ann
