// Bindings for the optimiser updates (in place on the parameter and its state).
#include <cmath>
#include <string>

#include "ann/optim.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

double finite_option(const Napi::Object& o, const char* key, double dflt, const char* op, bool non_negative) {
  const double v = number_option(o, key, dflt, op);
  if (!std::isfinite(v) || (non_negative && v < 0))
    fail(op, std::string("option '") + key + "' must be a finite" + (non_negative ? " non-negative" : "") +
                 " number, got " + std::to_string(v));
  return v;
}

// sgdStep(param, grad, momentumBuffer | null, { lr, momentum, dampening, weightDecay, nesterov, firstStep })
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* op = "sgdStep";
  JsTensor* param = tensor_arg(info, 0, op, "param");
  JsTensor* grad = tensor_arg(info, 1, op, "grad");
  JsTensor* buf = optional_tensor_arg(info, 2, op, "momentumBuffer");
  const Device dev = expect_same_device(op, {param, grad, buf});
  expect_shape(op, "grad", grad, param->shape());
  Napi::Object o =
      options_arg(info, 3, op, {"lr", "momentum", "dampening", "weightDecay", "nesterov", "firstStep"});
  Napi::Value lr_v = o.Get("lr");
  if (lr_v.IsUndefined() || lr_v.IsNull()) fail(op, "option 'lr' is required");
  SgdOptions s;
  s.lr = finite_option(o, "lr", 0, op, true);
  s.momentum = finite_option(o, "momentum", 0, op, true);
  s.dampening = finite_option(o, "dampening", 0, op, false);
  s.weight_decay = finite_option(o, "weightDecay", 0, op, true);
  s.nesterov = bool_option(o, "nesterov", false, op);
  if (s.nesterov && (s.momentum <= 0 || s.dampening != 0))
    fail(op, "nesterov momentum requires momentum > 0 and dampening 0 (got momentum " +
                 std::to_string(s.momentum) + ", dampening " + std::to_string(s.dampening) + ")");
  if (s.momentum != 0) {
    if (!buf) fail(op, "momentum " + std::to_string(s.momentum) + " needs a momentumBuffer tensor");
    expect_shape(op, "momentumBuffer", buf, param->shape());
    Napi::Value first = o.Get("firstStep");
    if (first.IsUndefined() || first.IsNull())
      fail(op, "option 'firstStep' is required with momentum (true on a parameter's first step)");
    s.first_step = bool_option(o, "firstStep", false, op);
  }
  ANN_DISPATCH(dev, op, sgd_step, param->f32(), grad->f32(), s.momentum != 0 ? buf->f32() : nullptr,
               param->numel(), s);
  return info.Env().Undefined();
}

}  // namespace

ANN_REGISTER_BINDINGS(optim) { def(env, exports, "sgdStep", SgdStep); }

}  // namespace ann::napi
