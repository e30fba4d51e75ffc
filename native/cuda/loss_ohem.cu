// The OHEM cross-entropy on the GPU (openseg's FSOhemCELoss, as cpu/loss_ce.cpp computes it):
// p = softmax probability of the target at valid pixels, threshold = max(k-th smallest p with
// k = min(min_kept, valid - 1), thresh), keep p < threshold, loss = mean of w[y] * nll over the kept.
// The k-th smallest is found on the device by a radix select over the float bits (four 8-bit
// passes, each an integer histogram of the keys that share the digits found so far), which both
// nvcc and the emulator compile; integer atomics add up the same in any order, so the selection is
// deterministic, and the loss sums run in double in a fixed order. Only the result's few numbers
// are copied to the host.
#include <cmath>
#include <cstdint>

#include "ann/loss.h"
#include "loss_pixel.cuh"

namespace ann::cuda {
namespace {

// The selection's state, on the device.
struct OhemState {
  unsigned valid;      // non-ignored pixels
  unsigned prefix;     // the k-th key's digits found so far
  unsigned rank;       // its rank among the keys that share them
  unsigned hist[256];  // the current pass's histogram
  double threshold;
  double kept;
  float loss;
};

// Keys order like the floats, NaN above +inf (NaN sorts last, as torch.sort); the ignored pixels
// get the one key above every float's, so they are never among the k <= valid - 1 smallest.
constexpr unsigned kNanKey = 0xfffffffeu;
constexpr unsigned kIgnoredKey = 0xffffffffu;

__device__ __forceinline__ unsigned order_key(float p) {
  if (p != p) return kNanKey;
  const unsigned bits = __float_as_uint(p);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

__device__ __forceinline__ float key_value(unsigned key) {
  if (key == kNanKey) return NAN;
  return __uint_as_float((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
}

__global__ void init_kernel(OhemState* st, double threshold, double kept) {
  if (threadIdx.x == 0) {
    st->valid = st->prefix = st->rank = 0;
    st->threshold = threshold;
    st->kept = kept;
    st->loss = 0;
  }
  for (int i = threadIdx.x; i < 256; i += blockDim.x) st->hist[i] = 0;
}

// keys [pixels] (and nll [pixels] unless null) of every pixel; counts the valid ones.
__global__ void probs_kernel(CrossEntropyShape s, const float* __restrict__ logits,
                             const int32_t* __restrict__ target, unsigned* __restrict__ keys, float* nll,
                             OhemState* st) {
  __shared__ unsigned scratch[kLossThreads / 32];
  const int64_t P = s.batch * s.inner;
  unsigned valid = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t y = target[i];
    if (y == s.ignore_index) {
      keys[i] = kIgnoredKey;
      continue;
    }
    const float* x = pixel_logits(s, logits, i);
    const PixelLse e = pixel_lse(x, s.classes, s.inner);
    const float xt = x[y * s.inner];
    keys[i] = order_key(target_prob(xt, e));
    if (nll) nll[i] = e.ls - (xt - e.m);
    ++valid;
  }
  valid = block_sum(valid, scratch);
  if (threadIdx.x == 0 && valid) atomicAdd(&st->valid, valid);
}

// The histogram of digit (key >> shift) & 255 over the keys whose digits above it are st->prefix's.
__global__ void hist_kernel(const unsigned* __restrict__ keys, int64_t n, int shift, OhemState* st) {
  __shared__ unsigned hist[256];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
  __syncthreads();
  const unsigned above = shift >= 24 ? 0u : ~0u << (shift + 8), prefix = st->prefix & above;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const unsigned key = keys[i];
    if ((key & above) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1u);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < 256; i += blockDim.x)
    if (hist[i]) atomicAdd(&st->hist[i], hist[i]);
}

// Picks the digit the k-th key has and clears the histogram; after the last digit, the threshold.
__global__ void pick_kernel(OhemState* st, int shift, int64_t min_kept, double thresh) {
  if (threadIdx.x != 0) return;
  if (st->valid > 0) {
    if (shift == 24)
      st->rank = static_cast<unsigned>(min_kept < int64_t(st->valid) - 1 ? min_kept : st->valid - 1);
    unsigned below = 0;
    for (unsigned d = 0; d < 256; ++d) {
      if (below + st->hist[d] > st->rank) {
        st->prefix |= d << shift;
        st->rank -= below;
        break;
      }
      below += st->hist[d];
    }
  }
  for (int i = 0; i < 256; ++i) st->hist[i] = 0;
  if (shift == 0) {
    if (st->valid == 0) {
      st->threshold = thresh;  // max(no k-th value, thresh)
    } else {
      const double v = key_value(st->prefix);
      st->threshold = thresh > v ? thresh : v;  // Python's max(v, thresh): NaN stays NaN
    }
  }
}

// parts [2][blocks]: the block's sums of w[y] * nll and of the count over the kept pixels.
__global__ void loss_parts_kernel(CrossEntropyShape s, const int32_t* __restrict__ target,
                                  const float* __restrict__ weight, const unsigned* __restrict__ keys,
                                  const float* __restrict__ nll, const OhemState* st,
                                  double* __restrict__ parts) {
  __shared__ double scratch[kLossThreads / 32];
  const int64_t P = s.batch * s.inner;
  const double thr = st->threshold;
  double sl = 0, kept = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t y = target[i];
    if (y == s.ignore_index || !(double(key_value(keys[i])) < thr)) continue;
    sl += double(weight ? weight[y] : 1.0f) * nll[i];
    kept += 1;
  }
  sl = block_sum(sl, scratch);
  kept = block_sum(kept, scratch);
  if (threadIdx.x == 0) parts[blockIdx.x] = sl, parts[gridDim.x + blockIdx.x] = kept;
}

__global__ void loss_final_kernel(const double* __restrict__ parts, int64_t blocks, OhemState* st) {
  __shared__ double scratch[kLossThreads / 32];
  const double sl = sum_parts(parts, blocks, 1, scratch);
  const double kept = sum_parts(parts + blocks, blocks, 1, scratch);
  if (threadIdx.x != 0) return;
  if (st->threshold != st->threshold) {
    st->kept = 0;
    st->loss = NAN;
  } else {
    st->kept = kept;
    st->loss = kept > 0 ? static_cast<float>(sl / kept) : 0.0f;
  }
}

// dlogits of the loss scaled by dloss: g = dloss / kept * w[y] at the kept pixels, 0 elsewhere;
// all zero when nothing is kept, all NaN when the threshold is.
__global__ void grad_kernel(CrossEntropyShape s, float dloss, const float* __restrict__ logits,
                            const int32_t* __restrict__ target, const float* __restrict__ weight,
                            const OhemState* st, float* __restrict__ dlogits) {
  const int64_t P = s.batch * s.inner;
  const double thr = st->threshold, kept = st->kept;
  const bool fill = thr != thr || kept == 0;
  const float fill_value = thr != thr ? NAN : 0.0f;
  const double scale = double(dloss) / kept;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float* x = pixel_logits(s, logits, i);
    float* dx = dlogits + (x - logits);
    if (fill) {
      for (int64_t k = 0; k < s.classes; ++k) dx[k * s.inner] = fill_value;
      continue;
    }
    const int32_t y = target[i];
    const PixelLse e = pixel_lse(x, s.classes, s.inner);
    float g = 0.0f;
    if (y != s.ignore_index) {
      const bool keep = double(target_prob(x[y * s.inner], e)) < thr;
      g = keep ? static_cast<float>(scale * (weight ? weight[y] : 1.0f)) : 0.0f;
    }
    const float f = g / e.sum;
    for (int64_t k = 0; k < s.classes; ++k) {
      const float d = expf(x[k * s.inner] - e.m) * f;
      dx[k * s.inner] = k == y ? d - g : d;
    }
  }
}

// The whole selection into *st: probabilities, threshold, kept count and loss.
void run_selection(const char* op, const CrossEntropyShape& s, const OhemOptions& o, const float* logits,
                   const int32_t* target, const float* weight, OhemState* st) {
  const int64_t P = s.pixels();
  const unsigned blocks = loss_blocks(P);
  Buffer<unsigned> keys(static_cast<size_t>(P > 0 ? P : 1));
  Buffer<float> nll(static_cast<size_t>(P > 0 ? P : 1));
  Buffer<double> parts(2 * static_cast<size_t>(blocks));
  ANN_LAUNCH(op, init_kernel, dim3(1), dim3(kLossThreads), 0, st, 0.0, 0.0);
  ANN_LAUNCH(op, probs_kernel, dim3(blocks), dim3(kLossThreads), 0, s, logits, target, keys.data(),
             nll.data(), st);
  for (int shift = 24; shift >= 0; shift -= 8) {
    ANN_LAUNCH(op, hist_kernel, dim3(blocks), dim3(kLossThreads), 0,
               static_cast<const unsigned*>(keys.data()), P, shift, st);
    ANN_LAUNCH(op, pick_kernel, dim3(1), dim3(32), 0, st, shift, o.min_kept, o.thresh);
  }
  ANN_LAUNCH(op, loss_parts_kernel, dim3(blocks), dim3(kLossThreads), 0, s, target, weight,
             static_cast<const unsigned*>(keys.data()), static_cast<const float*>(nll.data()),
             static_cast<const OhemState*>(st), parts.data());
  ANN_LAUNCH(op, loss_final_kernel, dim3(1), dim3(kLossThreads), 0, static_cast<const double*>(parts.data()),
             static_cast<int64_t>(blocks), st);
}

}  // namespace

OhemResult ohem_cross_entropy_forward(const CrossEntropyShape& s, const OhemOptions& o, const float* logits,
                                      const int32_t* target, const float* weight) {
  Buffer<OhemState> st(1);
  run_selection("ohemCrossEntropy", s, o, logits, target, weight, st.data());
  OhemState h;
  copy_to_host(&h, st.data(), sizeof h);
  OhemResult res;
  res.threshold = h.threshold;
  res.kept = static_cast<int64_t>(h.kept);
  res.loss = h.loss;
  res.valid = h.valid;
  return res;
}

void ohem_cross_entropy_backward(const CrossEntropyShape& s, const OhemOptions& o, float dloss,
                                 const float* logits, const int32_t* target, const float* weight,
                                 float* dlogits, const OhemSelection* known) {
  const char* op = "ohemCrossEntropyBackward";
  const int64_t P = s.pixels();
  if (P == 0) return;
  const unsigned blocks = loss_blocks(P);
  Buffer<OhemState> st(1);
  if (known) {
    ANN_LAUNCH(op, init_kernel, dim3(1), dim3(kLossThreads), 0, st.data(), known->threshold,
               static_cast<double>(known->kept));
  } else {  // the forward's selection again: the same probabilities, so the same threshold and count
    run_selection(op, s, o, logits, target, weight, st.data());
  }
  ANN_LAUNCH(op, grad_kernel, dim3(blocks), dim3(kLossThreads), 0, s, dloss, logits, target, weight,
             static_cast<const OhemState*>(st.data()), dlogits);
}

}  // namespace ann::cuda
