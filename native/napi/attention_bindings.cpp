// attention, attentionBackward, attentionWeights: argument checks and output allocation around
// the fused attention kernels (native/cpu/attention.cpp).
#include <cfloat>
#include <climits>
#include <cmath>
#include <string>

#include "ann/attention.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

struct Inputs {
  JsTensor *q, *k, *v;
  AttentionDims d;
};

// q [B,N,C], k [B,S,C] and (when given) v [B,S,Cv]: one batch size, q and k share C, k and v share S.
Inputs check_qkv(const char* op, JsTensor* q, JsTensor* k, JsTensor* v) {
  const Shape &qs = q->shape(), &ks = k->shape();
  if (ks[0] != qs[0]) fail(op, "batch mismatch: " + q->describe("q") + " and " + k->describe("k"));
  if (ks[2] != qs[2])
    fail(op, q->describe("q") + " has " + std::to_string(qs[2]) + " channels but " + k->describe("k") +
                 " has " + std::to_string(ks[2]));
  int64_t Cv = 1;
  if (v) {
    const Shape& vs = v->shape();
    if (vs[0] != qs[0]) fail(op, "batch mismatch: " + q->describe("q") + " and " + v->describe("v"));
    if (vs[1] != ks[1])
      fail(op, k->describe("k") + " has " + std::to_string(ks[1]) + " keys but " + v->describe("v") +
                   " has " + std::to_string(vs[1]) + " values");
    Cv = vs[2];
  }
  // The BLAS takes 32-bit sizes.
  for (const JsTensor* t : {q, k, v})
    if (t)
      for (int64_t dim : t->shape())
        if (dim > INT_MAX)
          fail(op, "dimension " + std::to_string(dim) + " is too large (the limit is 2^31-1)");
  return {q, k, v, AttentionDims{qs[0], qs[1], ks[1], qs[2], Cv}};
}

// Any finite scale, as PyTorch allows; the default is C^-1/2.
float scale_option(const Napi::Object& o, const char* op, int64_t C) {
  const double s = number_option(o, "scale", 1.0 / std::sqrt(static_cast<double>(C)), op);
  if (!std::isfinite(s) || std::fabs(s) > FLT_MAX)
    fail(op, "option 'scale' must be a finite number, got " + std::to_string(s));
  return static_cast<float>(s);
}

// attention(q, k, v, { scale, keepProbabilities }) -> { out [B,N,Cv], lse [B,N], p? [B,N,S] }
Napi::Value Attention(const Napi::CallbackInfo& info) {
  const char* op = "attention";
  JsTensor* q = tensor_arg(info, 0, op, "q", DType::F32, 3);
  JsTensor* k = tensor_arg(info, 1, op, "k", DType::F32, 3);
  JsTensor* v = tensor_arg(info, 2, op, "v", DType::F32, 3);
  const Napi::Object opts = options_arg(info, 3, op, {"scale", "keepProbabilities"});
  const Device dev = expect_same_device(op, {q, k, v});
  const Inputs in = check_qkv(op, q, k, v);
  const AttentionDims& d = in.d;
  const float scale = scale_option(opts, op, d.C);
  const bool keep = bool_option(opts, "keepProbabilities", false, op);
  Napi::Object out_obj, lse_obj, p_obj;
  JsTensor* out = JsTensor::Make(info.Env(), dev, {d.B, d.N, d.Cv}, DType::F32, &out_obj);
  JsTensor* lse = JsTensor::Make(info.Env(), dev, {d.B, d.N}, DType::F32, &lse_obj);
  JsTensor* p = optional_output(keep, info.Env(), dev, {d.B, d.N, d.S}, &p_obj);
  ANN_DISPATCH(dev, op, attention_forward, d, scale, q->f32(), k->f32(), v->f32(), out->f32(), lse->f32(),
               f32_or_null(p));
  return make_result(info.Env(), {{"out", out_obj}, {"lse", lse_obj}, {"p", p_obj}});
}

// attentionBackward(dout, q, k, v, out, lse, { scale, needQ, needK, needV }, p?) -> { dq?, dk?, dv? }
// p: the probabilities a forward with keepProbabilities returned (then q k^T is not recomputed).
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const char* op = "attentionBackward";
  JsTensor* dout = tensor_arg(info, 0, op, "dout", DType::F32, 3);
  JsTensor* q = tensor_arg(info, 1, op, "q", DType::F32, 3);
  JsTensor* k = tensor_arg(info, 2, op, "k", DType::F32, 3);
  JsTensor* v = tensor_arg(info, 3, op, "v", DType::F32, 3);
  JsTensor* out = tensor_arg(info, 4, op, "out", DType::F32, 3);
  JsTensor* lse = tensor_arg(info, 5, op, "lse", DType::F32, 2);
  const Napi::Object opts = options_arg(info, 6, op, {"scale", "needQ", "needK", "needV"});
  JsTensor* p = optional_tensor_arg(info, 7, op, "p", DType::F32, 3);
  const Device dev = expect_same_device(op, {dout, q, k, v, out, lse, p});
  const Inputs in = check_qkv(op, q, k, v);
  const AttentionDims& d = in.d;
  expect_shape(op, "out", out, {d.B, d.N, d.Cv});
  expect_shape(op, "dout", dout, {d.B, d.N, d.Cv});
  expect_shape(op, "lse", lse, {d.B, d.N});
  if (p) expect_shape(op, "p", p, {d.B, d.N, d.S});
  const float scale = scale_option(opts, op, d.C);
  const bool need_q = bool_option(opts, "needQ", true, op);
  const bool need_k = bool_option(opts, "needK", true, op);
  const bool need_v = bool_option(opts, "needV", true, op);
  Napi::Env env = info.Env();
  Napi::Object dq_obj, dk_obj, dv_obj;
  JsTensor* dq = optional_output(need_q, env, dev, {d.B, d.N, d.C}, &dq_obj);
  JsTensor* dk = optional_output(need_k, env, dev, {d.B, d.S, d.C}, &dk_obj);
  JsTensor* dv = optional_output(need_v, env, dev, {d.B, d.S, d.Cv}, &dv_obj);
  ANN_DISPATCH(dev, op, attention_backward, d, scale, dout->f32(), q->f32(), k->f32(), v->f32(), out->f32(),
               lse->f32(), f32_or_null(p), f32_or_null(dq), f32_or_null(dk), f32_or_null(dv));
  return make_result(env, {{"dq", dq_obj}, {"dk", dk_obj}, {"dv", dv_obj}});
}

// attentionWeights(q, k, { scale }) -> [B,N,S] probabilities (materialised: for tests).
Napi::Value AttentionWeights(const Napi::CallbackInfo& info) {
  const char* op = "attentionWeights";
  JsTensor* q = tensor_arg(info, 0, op, "q", DType::F32, 3);
  JsTensor* k = tensor_arg(info, 1, op, "k", DType::F32, 3);
  const Napi::Object opts = options_arg(info, 2, op, {"scale"});
  const Device dev = expect_same_device(op, {q, k});
  const Inputs in = check_qkv(op, q, k, nullptr);
  const float scale = scale_option(opts, op, in.d.C);
  const AttentionDims& d = in.d;
  if (static_cast<double>(d.B) * d.N * d.S > 4.0e9)
    fail(op,
         "the weights of " + q->describe("q") + " against " + k->describe("k") + " have too many elements");
  Napi::Object w_obj;
  JsTensor* w = JsTensor::Make(info.Env(), dev, {d.B, d.N, d.S}, DType::F32, &w_obj);
  ANN_DISPATCH(dev, op, attention_weights, d, scale, q->f32(), k->f32(), w->f32());
  return w_obj;
}

}  // namespace

ANN_REGISTER_BINDINGS(attention) {
  def(env, exports, "attention", Attention);
  def(env, exports, "attentionBackward", AttentionBackward);
  def(env, exports, "attentionWeights", AttentionWeights);
}

}  // namespace ann::napi
