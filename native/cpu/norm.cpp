// Batch norm, one channel per work item (channels split over the pool). Each channel's values lie
// in B contiguous planes of S floats. Sums run in double over eight lanes (one vector). The backward's
// per-element transform runs in double and rounds once; the forward's stays PyTorch's float formula (in
// double it moved the r50 fixture's stem gradients 4-20x further from the truth: ReLU and max-pool decisions
// follow float rounding).
#include "ann/norm.h"

#include <cmath>

#include "double_lanes.h"
#include "parallel.h"
#include "simd.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // the vector helpers are always inlined: no ABI crosses

namespace ann {
namespace {

// The sums run over two vectors of double lanes (two, so that consecutive adds do not wait on each
// other), added in a fixed order, so every SIMD level sums the same terms the same way.
using f64x8::load_f;
using f64x8::sum_in_order;
using vd8 = f64x8::vd;

// Sums of d and d^2 for d = p - shift, in one pass over the plane.
ANN_INLINE void plane_moments(const float* p, int64_t n, double shift, double* sum, double* sq) {
  vd8 a = {}, b = {}, a2 = {}, b2 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const vd8 d = load_f(p + i) - shift, d2 = load_f(p + i + 8) - shift;
    a += d;
    b += d * d;
    a2 += d2;
    b2 += d2 * d2;
  }
  a += a2;
  b += b2;
  for (; i + 8 <= n; i += 8) {
    const vd8 d = load_f(p + i) - shift;
    a += d;
    b += d * d;
  }
  double sa = 0, sb = 0;
  for (; i < n; ++i) {
    const double d = p[i] - shift;
    sa += d;
    sb += d * d;
  }
  *sum += sa + sum_in_order(a);
  *sq += sb + sum_in_order(b);
}

// Sum of (p - mean)^2.
ANN_INLINE double plane_sq_dev(const float* p, int64_t n, double mean) {
  vd8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const vd8 d = load_f(p + i) - mean;
    acc += d * d;
  }
  double s = 0;
  for (; i < n; ++i) {
    const double d = p[i] - mean;
    s += d * d;
  }
  return s + sum_in_order(acc);
}

// Sum of dy, of dy * (x - mean) and of (x - mean).
ANN_INLINE void plane_grad_sums(const float* dy, const float* x, int64_t n, double mean, double* sum_dy,
                                double* dot, double* sum_dx) {
  vd8 a = {}, d = {}, e = {}, a2 = {}, d2 = {}, e2 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const vd8 g = load_f(dy + i), c = load_f(x + i) - mean;
    const vd8 g2 = load_f(dy + i + 8), c2 = load_f(x + i + 8) - mean;
    a += g;
    d += g * c;
    e += c;
    a2 += g2;
    d2 += g2 * c2;
    e2 += c2;
  }
  a += a2;
  d += d2;
  e += e2;
  for (; i + 8 <= n; i += 8) {
    const vd8 g = load_f(dy + i), c = load_f(x + i) - mean;
    a += g;
    d += g * c;
    e += c;
  }
  double sa = 0, sd = 0, se = 0;
  for (; i < n; ++i) {
    const double c = x[i] - mean;
    sa += dy[i];
    sd += dy[i] * c;
    se += c;
  }
  *sum_dy += sa + sum_in_order(a);
  *dot += sd + sum_in_order(d);
  *sum_dx += se + sum_in_order(e);
}

// y = (x - mean) * scale + shift over one channel, in float.
ANN_INLINE void channel_affine(const BatchNormShape& s, int64_t c, const float* x, float* y, double mean,
                               double scale, double shift) {
  const int64_t S = s.spatial;
  for (int64_t b = 0; b < s.batch; ++b) {
    const int64_t base = (b * s.channels + c) * S;
    const float* xp = x + base;
    float* yp = y + base;
    const float mf = static_cast<float>(mean), sf = static_cast<float>(scale), hf = static_cast<float>(shift);
    for (int64_t i = 0; i < S; ++i) yp[i] = (xp[i] - mf) * sf + hf;
  }
}

// Evaluation mode: each y in double, rounded once, so the result does not depend on whether the
// compiler fuses the multiply-add (it does at the AVX-512 level only); a deep network in eval mode
// stacks one such rounding per layer.
ANN_INLINE void channel_affine_exact(const BatchNormShape& s, int64_t c, const float* x, float* y,
                                     double mean, double scale, double shift) {
  const int64_t S = s.spatial;
  for (int64_t b = 0; b < s.batch; ++b) {
    const int64_t base = (b * s.channels + c) * S;
    const float* xp = x + base;
    float* yp = y + base;
    for (int64_t i = 0; i < S; ++i) yp[i] = static_cast<float>((xp[i] - mean) * scale + shift);
  }
}

ANN_INLINE void train_channels_impl(const BatchNormShape& s, int64_t c0, int64_t c1, const float* x,
                                    const float* weight, const float* bias, float* running_mean,
                                    float* running_var, double momentum, double eps, float* y,
                                    float* save_mean, float* save_invstd) {
  const int64_t S = s.spatial, n = s.count();
  for (int64_t c = c0; c < c1; ++c) {
    // One pass: the moments about the channel's first value (in double, so the cancellation in
    // sq - sum^2/n costs (offset/std)^2 * 2^-52 of the variance); a second, exact pass about the
    // mean only when the offset is large beside the spread (2^20 in squares: < 2^-32 relative).
    const double shift = std::isfinite(x[c * S]) ? x[c * S] : 0.0;
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < s.batch; ++b) plane_moments(x + (b * s.channels + c) * S, S, shift, &sum, &sq);
    const double offset = sum / n, mean = shift + offset;
    double ss = sq - sum * offset;
    if (!(ss >= 0) || offset * offset * n > ss * 1048576.0) {
      ss = 0;
      for (int64_t b = 0; b < s.batch; ++b) ss += plane_sq_dev(x + (b * s.channels + c) * S, S, mean);
    }
    const double var = ss / n;
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    if (running_mean)
      running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mean);
    if (running_var) {
      const double unbiased = n > 1 ? ss / (n - 1) : NAN;
      running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * unbiased);
    }
    const double w = weight ? weight[c] : 1.0;
    channel_affine(s, c, x, y, mean, w * invstd, bias ? bias[c] : 0.0);
  }
}
ANN_SIMD_KERNEL(void, train_channels,
                (const BatchNormShape& s, int64_t c0, int64_t c1, const float* x, const float* weight,
                 const float* bias, float* running_mean, float* running_var, double momentum, double eps,
                 float* y, float* save_mean, float* save_invstd),
                (s, c0, c1, x, weight, bias, running_mean, running_var, momentum, eps, y, save_mean,
                 save_invstd))

ANN_INLINE void eval_channels_impl(const BatchNormShape& s, int64_t c0, int64_t c1, const float* x,
                                   const float* weight, const float* bias, const float* running_mean,
                                   const float* running_var, double eps, float* y, float* save_mean,
                                   float* save_invstd) {
  for (int64_t c = c0; c < c1; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    save_mean[c] = running_mean[c];
    save_invstd[c] = static_cast<float>(invstd);
    const double w = weight ? weight[c] : 1.0;
    channel_affine_exact(s, c, x, y, running_mean[c], w * invstd, bias ? bias[c] : 0.0);
  }
}
ANN_SIMD_KERNEL(void, eval_channels,
                (const BatchNormShape& s, int64_t c0, int64_t c1, const float* x, const float* weight,
                 const float* bias, const float* running_mean, const float* running_var, double eps, float* y,
                 float* save_mean, float* save_invstd),
                (s, c0, c1, x, weight, bias, running_mean, running_var, eps, y, save_mean, save_invstd))

ANN_INLINE void backward_channels_impl(const BatchNormShape& s, int64_t c0, int64_t c1, const float* dy,
                                       const float* x, const float* weight, const float* save_mean,
                                       const float* save_invstd, bool training, float* dx, float* dweight,
                                       float* dbias) {
  const int64_t S = s.spatial, n = s.count();
  const bool need_sums = dweight || dbias || (dx && training);
  for (int64_t c = c0; c < c1; ++c) {
    const double invstd = save_invstd[c];
    double mean = save_mean[c], sum_dy = 0, dot = 0, sum_dx = 0;
    if (need_sums)
      for (int64_t b = 0; b < s.batch; ++b) {
        const int64_t base = (b * s.channels + c) * S;
        plane_grad_sums(dy + base, x + base, S, mean, &sum_dy, &dot, &sum_dx);
      }
    if (training && need_sums) {
      // The saved mean is rounded to float; the forward normalised with the exact one. Centre on
      // that again (sum (x - mean) must be 0), or every dx carries the rounding times n into sums.
      const double shift = sum_dx / n;
      mean += shift;
      dot -= shift * sum_dy;
    }
    if (dbias) dbias[c] = static_cast<float>(sum_dy);
    if (dweight) dweight[c] = static_cast<float>(dot * invstd);
    if (!dx) continue;
    // Each dx is computed in double and rounded once: the sum over a channel of dx is zero in exact
    // arithmetic, so the bias gradient of a conv before this BN is nothing but their rounding.
    const double scale = (weight ? weight[c] : 1.0) * invstd;
    // Training: dx = (dy - mean(dy) - (x - mean) * k) * w * invstd, k = mean(dy * (x - mean)) * invstd^2.
    const double mean_dy = training ? sum_dy / n : 0.0;
    const double k = training ? dot / n * invstd * invstd : 0.0;
    for (int64_t b = 0; b < s.batch; ++b) {
      const int64_t base = (b * s.channels + c) * S;
      const float* dyp = dy + base;
      const float* xp = x + base;
      float* dxp = dx + base;
      if (training) {
        for (int64_t i = 0; i < S; ++i)
          dxp[i] = static_cast<float>((dyp[i] - mean_dy - (xp[i] - mean) * k) * scale);
      } else {
        for (int64_t i = 0; i < S; ++i) dxp[i] = static_cast<float>(dyp[i] * scale);
      }
    }
  }
}
ANN_SIMD_KERNEL(void, backward_channels,
                (const BatchNormShape& s, int64_t c0, int64_t c1, const float* dy, const float* x,
                 const float* weight, const float* save_mean, const float* save_invstd, bool training,
                 float* dx, float* dweight, float* dbias),
                (s, c0, c1, dy, x, weight, save_mean, save_invstd, training, dx, dweight, dbias))

// Enough values per work item that the pool's hand-off is worth it.
int64_t channel_grain(const BatchNormShape& s) {
  const int64_t per = s.count() > 0 ? s.count() : 1;
  return per >= 16384 ? 1 : (16384 + per - 1) / per;
}

}  // namespace

void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, double momentum, double eps, float* y,
                              float* save_mean, float* save_invstd) {
  parallel_for(s.channels, channel_grain(s), [&](int64_t c0, int64_t c1) {
    train_channels(s, c0, c1, x, weight, bias, running_mean, running_var, momentum, eps, y, save_mean,
                   save_invstd);
  });
}

void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, double eps, float* y,
                             float* save_mean, float* save_invstd) {
  parallel_for(s.channels, channel_grain(s), [&](int64_t c0, int64_t c1) {
    eval_channels(s, c0, c1, x, weight, bias, running_mean, running_var, eps, y, save_mean, save_invstd);
  });
}

void batch_norm_backward(const BatchNormShape& s, const float* dy, const float* x, const float* weight,
                         const float* save_mean, const float* save_invstd, bool training, float* dx,
                         float* dweight, float* dbias) {
  parallel_for(s.channels, channel_grain(s), [&](int64_t c0, int64_t c1) {
    backward_channels(s, c0, c1, dy, x, weight, save_mean, save_invstd, training, dx, dweight, dbias);
  });
}

}  // namespace ann
