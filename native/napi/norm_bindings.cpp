// batchNorm and batchNormBackward: argument checks, then the CPU kernels of native/cpu/norm.cpp.
#include <cmath>
#include <string>

#include "ann/norm.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

// x [B, C], [B, C, L] or [B, C, H, W] viewed as [B, C, S].
BatchNormShape bn_shape(const char* op, const JsTensor* x) {
  const Shape& xs = x->shape();
  if (xs.size() < 2 || xs.size() > 4)
    fail(op, x->describe("x") + ": expected rank 2, 3 or 4 ([B,C], [B,C,L] or [B,C,H,W]), got rank " +
                 std::to_string(xs.size()));
  int64_t spatial = 1;
  for (size_t i = 2; i < xs.size(); ++i) spatial *= xs[i];
  return {xs[0], xs[1], spatial};
}

void expect_per_channel(const char* op, const char* name, const JsTensor* t, const JsTensor* x) {
  if (t && t->shape() != Shape{x->shape()[1]})
    fail(op, t->describe(name) + " must have shape [" + std::to_string(x->shape()[1]) + "] for " +
                 x->describe("x"));
}

bool required_bool(const Napi::Object& opts, const char* key, const char* op) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) fail(op, std::string("option '") + key + "' (a boolean) is required");
  return bool_option(opts, key, false, op);
}

// batchNorm(x, weight | null, bias | null, runningMean | null, runningVar | null, { training, momentum, eps
// })
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const char* op = "batchNorm";
  JsTensor* x = tensor_arg(info, 0, op, "x");
  JsTensor* weight = optional_tensor_arg(info, 1, op, "weight");
  JsTensor* bias = optional_tensor_arg(info, 2, op, "bias");
  JsTensor* rmean = optional_tensor_arg(info, 3, op, "runningMean");
  JsTensor* rvar = optional_tensor_arg(info, 4, op, "runningVar");
  Napi::Object opts = options_arg(info, 5, op, {"training", "momentum", "eps"});
  const Device dev = expect_same_device(op, {x, weight, bias, rmean, rvar});
  const BatchNormShape s = bn_shape(op, x);
  expect_per_channel(op, "weight", weight, x);
  expect_per_channel(op, "bias", bias, x);
  expect_per_channel(op, "runningMean", rmean, x);
  expect_per_channel(op, "runningVar", rvar, x);
  if (!rmean != !rvar) fail(op, "runningMean and runningVar must be given together (or both null)");
  const bool training = required_bool(opts, "training", op);
  const double momentum = number_option(opts, "momentum", 0.1, op);
  const double eps = number_option(opts, "eps", 1e-5, op);
  if (!(momentum >= 0 && momentum <= 1))
    fail(op, "momentum must be in [0, 1], got " + std::to_string(momentum));
  if (!(eps >= 0 && std::isfinite(eps)))
    fail(op, "eps must be a finite number >= 0, got " + std::to_string(eps));
  if (training && s.count() <= 1)
    fail(op, "Expected more than 1 value per channel when training, got " + x->describe("x"));
  if (!training && !rmean) fail(op, "evaluation mode needs runningMean and runningVar");
  if (rmean && rmean == rvar) fail(op, "runningMean and runningVar must be distinct tensors");

  Napi::Env env = info.Env();
  Napi::Object y_obj, mean_obj, invstd_obj;
  JsTensor* y = JsTensor::Make(env, dev, x->shape(), DType::F32, &y_obj);
  JsTensor* save_mean = JsTensor::Make(env, dev, {s.channels}, DType::F32, &mean_obj);
  JsTensor* save_invstd = JsTensor::Make(env, dev, {s.channels}, DType::F32, &invstd_obj);
  const float* w = f32_or_null(weight);
  const float* b = f32_or_null(bias);
  if (training) {
    ANN_DISPATCH(dev, op, batch_norm_forward_train, s, x->f32(), w, b, f32_or_null(rmean), f32_or_null(rvar),
                 momentum, eps, y->f32(), save_mean->f32(), save_invstd->f32());
  } else {
    ANN_DISPATCH(dev, op, batch_norm_forward_eval, s, x->f32(), w, b, rmean->f32(), rvar->f32(), eps,
                 y->f32(), save_mean->f32(), save_invstd->f32());
  }
  return make_result(env, {{"y", y_obj}, {"saveMean", mean_obj}, {"saveInvstd", invstd_obj}});
}

// batchNormBackward(dy, x, weight | null, saveMean, saveInvstd, { training, needInput, needWeight, needBias
// })
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "batchNormBackward";
  JsTensor* dy = tensor_arg(info, 0, op, "dy");
  JsTensor* x = tensor_arg(info, 1, op, "x");
  JsTensor* weight = optional_tensor_arg(info, 2, op, "weight");
  JsTensor* save_mean = tensor_arg(info, 3, op, "saveMean", DType::F32, 1);
  JsTensor* save_invstd = tensor_arg(info, 4, op, "saveInvstd", DType::F32, 1);
  Napi::Object opts = options_arg(info, 5, op, {"training", "needInput", "needWeight", "needBias"});
  const Device dev = expect_same_device(op, {dy, x, weight, save_mean, save_invstd});
  const BatchNormShape s = bn_shape(op, x);
  expect_shape(op, "dy", dy, x->shape());
  expect_per_channel(op, "weight", weight, x);
  expect_per_channel(op, "saveMean", save_mean, x);
  expect_per_channel(op, "saveInvstd", save_invstd, x);
  const bool training = required_bool(opts, "training", op);
  const bool need_input = bool_option(opts, "needInput", true, op);
  const bool need_weight = bool_option(opts, "needWeight", true, op);
  const bool need_bias = bool_option(opts, "needBias", true, op);

  Napi::Env env = info.Env();
  Napi::Object dx_obj, dw_obj, db_obj;
  JsTensor* dx = optional_output(need_input, env, dev, x->shape(), &dx_obj);
  JsTensor* dw = optional_output(need_weight, env, dev, {s.channels}, &dw_obj);
  JsTensor* db = optional_output(need_bias, env, dev, {s.channels}, &db_obj);
  ANN_DISPATCH(dev, op, batch_norm_backward, s, dy->f32(), x->f32(), f32_or_null(weight), save_mean->f32(),
               save_invstd->f32(), training, f32_or_null(dx), f32_or_null(dw), f32_or_null(db));
  return make_result(env, {{"dx", dx_obj}, {"dweight", dw_obj}, {"dbias", db_obj}});
}

}  // namespace

ANN_REGISTER_BINDINGS(norm) {
  def(env, exports, "batchNorm", BatchNorm);
  def(env, exports, "batchNormBackward", BatchNormBackward);
}

}  // namespace ann::napi
