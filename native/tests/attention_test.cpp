// The fused attention's CUDA kernels against the CPU kernels: forward (out, lse), the attention map,
// and the backward (dQ, dK, dV, each alone and together), on the one-pass path (S <= 256), the
// streaming path (S > 256, S = N), sizes that are not multiples of the tiles, S = 1, several
// column slices, and rows that PyTorch's softmax makes NaN. Both sides are float32 forward and
// double backward, so they agree far inside the parity rule's margin; the CUDA results must also
// be bit-identical run to run (no atomics). At --full, the paper's sizes, timed.
#include "ann/attention.h"

#include <cmath>
#include <string>
#include <vector>

#include "../cuda/runtime.h"
#include "harness.h"

namespace ann::cuda {
decltype(::ann::attention_forward) attention_forward;
decltype(::ann::attention_backward) attention_backward;
decltype(::ann::attention_weights) attention_weights;
}  // namespace ann::cuda

namespace ann::tests {
namespace {

void cpu_forward(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                 float* out, float* lse) {
  ann::attention_forward(d, scale, q, k, v, out, lse, nullptr);
}
void cpu_backward(const AttentionDims& d, float scale, const float* g, const float* q, const float* k,
                  const float* v, const float* out, const float* lse, float* dq, float* dk, float* dv) {
  ann::attention_backward(d, scale, g, q, k, v, out, lse, nullptr, dq, dk, dv);
}

struct Case {
  int64_t B, N, S, C, Cv;
  float scale;  // 0: 1/sqrt(C)
  bool nonfinite;
};

std::string case_name(const Case& c) {
  return "B" + std::to_string(c.B) + " N" + std::to_string(c.N) + " S" + std::to_string(c.S) + " C" +
         std::to_string(c.C) + " Cv" + std::to_string(c.Cv) + (c.nonfinite ? " nonfinite" : "");
}

// expect_close, except that where the CPU's value is not finite the same value is required.
void expect_close_nonfinite(Run& run, const std::string& what, std::vector<float> got,
                            std::vector<float> want, double atol, double rtol) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isfinite(want[i])) continue;
    const bool same = std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
    if (!same) {
      run.expect(false, what + ": element " + std::to_string(i) + " is " + std::to_string(got[i]) +
                            ", the CPU kernel's is " + std::to_string(want[i]));
      return;
    }
    got[i] = want[i] = 0.f;
  }
  run.expect_close(what, got.data(), want.data(), static_cast<int64_t>(want.size()), atol, rtol);
}

// Rows of q that make NaN (a NaN channel), +inf (an infinite channel against positive keys) and
// finite rows beside them; keys stay finite so other rows are unaffected.
void poison(std::vector<float>& q, std::vector<float>& k, const Case& c) {
  for (int64_t i = 0; i < c.C; ++i) k[i] = std::fabs(k[i]) + 0.1f;  // key 0 positive in every channel
  if (c.N > 1) q[1 * c.C + 0] = NAN;
  if (c.N > 2) q[2 * c.C + 0] = INFINITY;
  if (c.N > 3) q[3 * c.C + 0] = -INFINITY;
}

void check_attention(Run& run, const Case& c, uint64_t seed) {
  const std::string name = case_name(c);
  const AttentionDims d{c.B, c.N, c.S, c.C, c.Cv};
  const float scale = c.scale != 0.f ? c.scale : 1.f / std::sqrt(static_cast<float>(c.C));
  std::vector<float> q = uniform(c.B * c.N * c.C, seed, -2.f, 2.f),
                     k = uniform(c.B * c.S * c.C, seed + 1, -2.f, 2.f);
  const std::vector<float> v = uniform(c.B * c.S * c.Cv, seed + 2), g = uniform(c.B * c.N * c.Cv, seed + 3);
  if (c.nonfinite) poison(q, k, c);
  const int64_t nq = c.B * c.N * c.C, nk = c.B * c.S * c.C, nv = c.B * c.S * c.Cv, no = c.B * c.N * c.Cv;
  std::vector<float> out(no), lse(c.B * c.N), dq(nq), dk(nk), dv(nv);
  cpu_forward(d, scale, q.data(), k.data(), v.data(), out.data(), lse.data());
  cpu_backward(d, scale, g.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), dq.data(), dk.data(),
               dv.data());

  DeviceFloats Q(q), K(k), V(v), G(g), O(no), L(c.B * c.N), dQ(nq), dK(nk), dV(nv);
  cuda::attention_forward(d, scale, Q.data(), K.data(), V.data(), O.data(), L.data(), nullptr);
  run.expect_close(name + ": out", O.host().data(), out.data(), no, 2e-6, 2e-5);
  expect_close_nonfinite(run, name + ": lse", L.host(), lse, 2e-6, 2e-6);
  // The backward reads the CPU's forward results, so only the backward is compared here.
  DeviceFloats Oc(out), Lc(lse);
  cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), Oc.data(), Lc.data(), nullptr,
                           dQ.data(), dK.data(), dV.data());
  const std::vector<float> hq = dQ.host(), hk = dK.host(), hv = dV.host();
  run.expect_close(name + ": dq", hq.data(), dq.data(), nq, 1e-6, 1e-5);
  run.expect_close(name + ": dk", hk.data(), dk.data(), nk, 1e-6, 1e-5);
  run.expect_close(name + ": dv", hv.data(), dv.data(), nv, 1e-6, 1e-5);
  // Each gradient alone is the same bits as all three together, and reruns repeat them.
  DeviceFloats one(std::max({nq, nk, nv}));
  cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), Oc.data(), Lc.data(), nullptr,
                           one.data(), nullptr, nullptr);
  run.expect_same(name + ": dq alone", one.host().data(), hq.data(), nq);
  cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), Oc.data(), Lc.data(), nullptr,
                           nullptr, one.data(), nullptr);
  run.expect_same(name + ": dk alone", one.host().data(), hk.data(), nk);
  cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), Oc.data(), Lc.data(), nullptr,
                           nullptr, nullptr, one.data());
  run.expect_same(name + ": dv alone", one.host().data(), hv.data(), nv);

  if (c.N * c.S <= (1 << 20)) {
    std::vector<float> w(c.B * c.N * c.S);
    ann::attention_weights(d, scale, q.data(), k.data(), w.data());
    DeviceFloats W(c.B * c.N * c.S);
    cuda::attention_weights(d, scale, Q.data(), K.data(), W.data());
    run.expect_close(name + ": weights", W.host().data(), w.data(), c.B * c.N * c.S, 1e-7, 2e-5);
    // Kept probabilities: the forward writes the map the CPU's attention_weights gives, with the
    // same out, and the backward reading it gives the recomputing backward's gradients.
    DeviceFloats Pk(c.B * c.N * c.S), Ok(no), Lk(c.B * c.N);
    cuda::attention_forward(d, scale, Q.data(), K.data(), V.data(), Ok.data(), Lk.data(), Pk.data());
    run.expect_close(name + ": kept p", Pk.host().data(), w.data(), c.B * c.N * c.S, 1e-7, 2e-5);
    run.expect_close(name + ": out with p kept", Ok.host().data(), out.data(), no, 2e-6, 2e-5);
    expect_close_nonfinite(run, name + ": lse with p kept", Lk.host(), lse, 2e-6, 2e-6);
    DeviceFloats kq(nq), kk(nk), kv(nv);
    cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), Oc.data(), Lc.data(),
                             Pk.data(), kq.data(), kk.data(), kv.data());
    run.expect_close(name + ": dq from p", kq.host().data(), dq.data(), nq, 1e-5, 1e-4);
    run.expect_close(name + ": dk from p", kk.host().data(), dk.data(), nk, 1e-5, 1e-4);
    run.expect_close(name + ": dv from p", kv.host().data(), dv.data(), nv, 1e-5, 1e-4);
  }
}

ANN_TEST("attention", attention_matches_cpu) {
  const Case cases[] = {
      {1, 1, 1, 4, 3, 0.f, false},        {2, 7, 110, 16, 8, 0.f, false},
      {1, 130, 225, 24, 40, 0.3f, false}, {2, 130, 130, 32, 32, 0.f, false},
      {1, 45, 45, 33, 31, 0.f, false},    {1, 977, 110, 64, 48, 0.f, false},
      {1, 97, 300, 20, 70, 0.f, false},   {1, 130, 700, 16, 24, 0.f, false},
      {1, 601, 601, 8, 8, 0.f, false},    {1, 33, 256, 40, 200, 0.f, false},
      {1, 40, 257, 9, 130, 0.f, false},   {2, 9, 20, 6, 5, 0.f, true},
      {1, 50, 400, 12, 7, 0.f, true},     {1, 3, 1, 1, 1, 2.f, false},
      {1, 70, 1, 5, 260, 0.f, false},
  };
  uint64_t seed = 1000;
  for (const Case& c : cases) check_attention(run, c, seed += 10);
}

ANN_TEST("attention", attention_paper_sizes) {
  if (run.small) return;
  // AFNB/APNB at 1/8 of 1024 x 2048 with S = 110 anchors, and NB/FNB (S = N) at 64 x 64 and 128 x 256.
  const Case cases[] = {{1, 32768, 110, 256, 256, 0.f, false},
                        {1, 4096, 4096, 256, 256, 0.f, false},
                        {1, 32768, 32768, 256, 256, 0.f, false}};
  for (const Case& c : cases) {
    const std::string name = case_name(c);
    const AttentionDims d{c.B, c.N, c.S, c.C, c.Cv};
    const float scale = 1.f / 16.f;
    const int64_t nq = c.B * c.N * c.C, nk = c.B * c.S * c.C, nv = c.B * c.S * c.Cv, no = c.B * c.N * c.Cv;
    DeviceFloats Q(uniform(nq, 1)), K(uniform(nk, 2)), V(uniform(nv, 3)), G(uniform(no, 4)), O(no),
        L(c.B * c.N);
    DeviceFloats dQ(nq), dK(nk), dV(nv);
    const double fwd_flops = 2.0 * c.B * c.N * c.S * (c.C + c.Cv);
    const double bytes = 4.0 * (nq + nk + nv + 2 * no);
    run.time(
        name + " forward",
        [&] { cuda::attention_forward(d, scale, Q.data(), K.data(), V.data(), O.data(), L.data(), nullptr); },
        bytes, fwd_flops, 1, c.S > 8192 ? 2 : 5);
    run.time(
        name + " backward",
        [&] {
          cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), O.data(), L.data(),
                                   nullptr, dQ.data(), dK.data(), dV.data());
        },
        bytes * 2, 2.5 * fwd_flops, 1, c.S > 8192 ? 2 : 5);
    if (c.S == 110) {  // the training path: the forward keeps p, the backward reads it
      DeviceFloats P(c.B * c.N * c.S);
      run.time(
          name + " forward keeping p",
          [&] {
            cuda::attention_forward(d, scale, Q.data(), K.data(), V.data(), O.data(), L.data(), P.data());
          },
          bytes + 4.0 * c.B * c.N * c.S, fwd_flops);
      run.time(
          name + " backward from p",
          [&] {
            cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), O.data(), L.data(),
                                     P.data(), dQ.data(), dK.data(), dV.data());
          },
          bytes * 2 + 4.0 * c.B * c.N * c.S, 2.0 * fwd_flops);
    }
    if (c.S == 110) {  // the timed kernels' results, against the CPU
      std::vector<float> q = Q.host(), k = K.host(), v = V.host(), g = G.host(), out(no), lse(c.B * c.N),
                         dq(nq), dk(nk), dv(nv);
      cpu_forward(d, scale, q.data(), k.data(), v.data(), out.data(), lse.data());
      cuda::attention_forward(d, scale, Q.data(), K.data(), V.data(), O.data(), L.data(), nullptr);
      run.expect_close(name + ": out", O.host().data(), out.data(), no, 2e-6, 2e-5);
      cpu_backward(d, scale, g.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), dq.data(),
                   dk.data(), dv.data());
      DeviceFloats Oc(out), Lc(lse);
      cuda::attention_backward(d, scale, G.data(), Q.data(), K.data(), V.data(), Oc.data(), Lc.data(),
                               nullptr, dQ.data(), dK.data(), dV.data());
      run.expect_close(name + ": dq", dQ.host().data(), dq.data(), nq, 1e-6, 1e-5);
      run.expect_close(name + ": dk", dK.host().data(), dk.data(), nk, 1e-6, 1e-5);
      run.expect_close(name + ": dv", dV.host().data(), dv.data(), nv, 1e-6, 1e-5);
    }
  }
}

}  // namespace
}  // namespace ann::tests
