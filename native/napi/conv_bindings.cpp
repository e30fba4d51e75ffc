// conv2d and conv2dBackward: argument checks, then the CPU kernels of native/cpu/conv.cpp.
#include <climits>
#include <string>

#include "ann/conv.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

std::string pair_str(int64_t a, int64_t b) { return "[" + std::to_string(a) + "," + std::to_string(b) + "]"; }

// Geometry from x, weight and the { stride, padding, dilation } options, every rule checked.
Conv2dShape conv_shape(const char* op, const JsTensor* x, const JsTensor* w, const Napi::Object& opts) {
  const Shape& xs = x->shape();
  const Shape& ws = w->shape();
  if (xs[1] != ws[1])
    fail(op, x->describe("x") + " has " + std::to_string(xs[1]) + " channels but " + w->describe("weight") +
                 " expects " + std::to_string(ws[1]));
  auto [sh, sw] = pair_option(opts, "stride", 1, op);
  auto [ph, pw] = pair_option(opts, "padding", 0, op);
  auto [dh, dw] = pair_option(opts, "dilation", 1, op);
  if (sh < 1 || sw < 1) fail(op, "stride must be >= 1, got " + pair_str(sh, sw));
  if (dh < 1 || dw < 1) fail(op, "dilation must be >= 1, got " + pair_str(dh, dw));
  if (ph < 0 || pw < 0) fail(op, "padding must be >= 0, got " + pair_str(ph, pw));
  constexpr int64_t kMaxGeom = 1 << 20;  // keeps every index product far from overflow
  if (sh > kMaxGeom || sw > kMaxGeom || ph > kMaxGeom || pw > kMaxGeom || dh > kMaxGeom || dw > kMaxGeom)
    fail(op, "stride, padding and dilation must be at most " + std::to_string(kMaxGeom));
  Conv2dShape s{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], sh, sw, ph, pw, dh, dw};
  const int64_t ho = s.out_height(), wo = s.out_width();
  if (ho <= 0 || wo <= 0)
    fail(op, "output size " + pair_str(ho, wo) + " is not positive for " + x->describe("x") + ", " +
                 w->describe("weight") + ", stride " + pair_str(sh, sw) + ", padding " + pair_str(ph, pw) +
                 ", dilation " + pair_str(dh, dw));
  // The BLAS takes 32-bit sizes: the column matrix is [Cin*kh*kw, Ho*Wo].
  const double cols = double(ws[1]) * double(ws[2]) * double(ws[3]) * double(ho) * double(wo);
  const double out = double(xs[0]) * double(ws[0]) * double(ho) * double(wo);
  if (double(ho) * double(wo) > INT_MAX || double(ws[1]) * ws[2] * ws[3] > INT_MAX || cols > 4.0e9 ||
      out > 4.0e9)
    fail(op, "output size " + pair_str(ho, wo) + " for " + w->describe("weight") + " is too large");
  return s;
}

// conv2d(x [B,Cin,H,W], weight [Cout,Cin,kh,kw], bias [Cout] | null, { stride, padding, dilation })
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const char* op = "conv2d";
  JsTensor* x = tensor_arg(info, 0, op, "x", DType::F32, 4);
  JsTensor* w = tensor_arg(info, 1, op, "weight", DType::F32, 4);
  JsTensor* bias = optional_tensor_arg(info, 2, op, "bias", DType::F32, 1);
  Napi::Object opts = options_arg(info, 3, op, {"stride", "padding", "dilation"});
  const Device dev = expect_same_device(op, {x, w, bias});
  const Conv2dShape s = conv_shape(op, x, w, opts);
  if (bias && bias->shape()[0] != s.out_channels)
    fail(op, bias->describe("bias") + " must have " + std::to_string(s.out_channels) + " entries for " +
                 w->describe("weight"));
  Napi::Object out;
  JsTensor* y = JsTensor::Make(info.Env(), dev, {s.batch, s.out_channels, s.out_height(), s.out_width()},
                               DType::F32, &out);
  ANN_DISPATCH(dev, op, conv2d_forward, s, x->f32(), w->f32(), f32_or_null(bias), y->f32());
  return out;
}

// conv2dBackward(dy, x, weight, { stride, padding, dilation, needInput, needWeight, needBias })
Napi::Value Conv2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "conv2dBackward";
  JsTensor* dy = tensor_arg(info, 0, op, "dy", DType::F32, 4);
  JsTensor* x = tensor_arg(info, 1, op, "x", DType::F32, 4);
  JsTensor* w = tensor_arg(info, 2, op, "weight", DType::F32, 4);
  Napi::Object opts =
      options_arg(info, 3, op, {"stride", "padding", "dilation", "needInput", "needWeight", "needBias"});
  const Device dev = expect_same_device(op, {dy, x, w});
  const Conv2dShape s = conv_shape(op, x, w, opts);
  expect_shape(op, "dy", dy, {s.batch, s.out_channels, s.out_height(), s.out_width()});
  const bool need_input = bool_option(opts, "needInput", true, op);
  const bool need_weight = bool_option(opts, "needWeight", true, op);
  const bool need_bias = bool_option(opts, "needBias", true, op);

  Napi::Env env = info.Env();
  Napi::Object dx_obj, dw_obj, db_obj;
  JsTensor* dx = optional_output(need_input, env, dev, x->shape(), &dx_obj);
  JsTensor* dw = optional_output(need_weight, env, dev, w->shape(), &dw_obj);
  JsTensor* db = optional_output(need_bias, env, dev, {s.out_channels}, &db_obj);
  ANN_DISPATCH(dev, op, conv2d_backward, s, dy->f32(), x->f32(), w->f32(), f32_or_null(dx), f32_or_null(dw),
               f32_or_null(db));
  return make_result(env, {{"dx", dx_obj}, {"dweight", dw_obj}, {"dbias", db_obj}});
}

}  // namespace

ANN_REGISTER_BINDINGS(conv) {
  def(env, exports, "conv2d", Conv2d);
  def(env, exports, "conv2dBackward", Conv2dBackward);
}

}  // namespace ann::napi
