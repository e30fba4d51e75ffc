// Softmax, argmax and the cross-entropy losses (plain and OHEM) over contiguous float32 tensors,
// PyTorch semantics. A tensor is seen as [outer, n, inner] with the reduced (class) axis in the
// middle, so one kernel serves NCHW channels (inner = H*W) and the last axis (inner = 1).
// Shapes and labels are validated by the caller (the binding); the kernels trust them.
#pragma once
#include <cstdint>

namespace ann {

// y = softmax (or log_softmax) of x over the middle axis.
void softmax_forward(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log);
// dx from dy and the forward output y: softmax: y * (dy - sum(dy * y)); log: dy - exp(y) * sum(dy).
void softmax_backward(const float* dy, const float* y, float* dx, int64_t outer, int64_t n, int64_t inner,
                      bool log);
// idx [outer, inner] = first index of the maximum over the middle axis; NaN counts as the maximum.
void argmax(const float* x, int32_t* idx, int64_t outer, int64_t n, int64_t inner);

enum class Reduction { None, Mean, Sum };

// Logits [batch, classes, inner], target [batch, inner]; weight [classes] or null (all ones).
struct CrossEntropyShape {
  int64_t batch, classes, inner;
  int64_t ignore_index;
  int64_t pixels() const { return batch * inner; }
};

// Position (flat index into target) of the first label outside [0, classes) that is not
// ignore_index, or -1 when all are valid.
int64_t find_bad_target(const int32_t* target, int64_t count, int64_t classes, int64_t ignore_index);

// out: [pixels] per-pixel weighted NLL (0 where ignored) for None, else one value:
// Sum = sum w[y] * nll, Mean = that / sum w[y] over non-ignored pixels (NaN when that is 0).
void cross_entropy_forward(const CrossEntropyShape& s, const float* logits, const int32_t* target,
                           const float* weight, Reduction r, float* out);
// dlogits from dloss ([pixels] for None, else one value).
void cross_entropy_backward(const CrossEntropyShape& s, const float* dloss, const float* logits,
                            const int32_t* target, const float* weight, Reduction r, float* dlogits);

struct OhemOptions {
  double thresh = 0.7;
  int64_t min_kept = 100000;
};
// Which pixels the loss keeps: those valid with p < threshold; `kept` of them.
struct OhemSelection {
  double threshold = 0;  // thresh when no pixel is valid; NaN when NaN logits reach the k-th place
  int64_t kept = 0;
};
struct OhemResult : OhemSelection {
  float loss = 0;     // mean over kept pixels of w[y] * nll; 0 when nothing is kept, NaN with the threshold
  int64_t valid = 0;  // non-ignored pixels
};
// The official ANN (openseg FSOhemCELoss) selection: p = softmax probability of the target at
// valid pixels, threshold = max(kth smallest p with k = min(min_kept, valid - 1), thresh),
// keep p < threshold.
OhemResult ohem_cross_entropy_forward(const CrossEntropyShape& s, const OhemOptions& o, const float* logits,
                                      const int32_t* target, const float* weight);
// dlogits of the forward's loss scaled by dloss; zero when nothing is kept, NaN when the threshold
// is. `known` is the forward's selection (saves a pass and the selection), or null to recompute it;
// the recomputed probabilities are bit-identical to the forward's.
void ohem_cross_entropy_backward(const CrossEntropyShape& s, const OhemOptions& o, float dloss,
                                 const float* logits, const int32_t* target, const float* weight,
                                 float* dlogits, const OhemSelection* known);

}  // namespace ann
