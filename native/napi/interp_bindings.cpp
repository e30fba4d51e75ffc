// Bilinear interpolation bindings: interpolateBilinear, interpolateBilinearBackward.
#include <cmath>

#include "ann/interp.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

// Sizes beyond this are surely a mistake and would overflow the plane arithmetic.
constexpr int64_t kMaxSide = 1 << 20;

void check_side(const char* op, const char* what, int64_t v) {
  if (v < 1 || v > kMaxSide)
    fail(op, std::string(what) + " must be between 1 and " + std::to_string(kMaxSide) + ", got " +
                 std::to_string(v));
}

void check_total(const char* op, const Shape& shape) {
  if (double(shape[0]) * double(shape[1]) * double(shape[2]) * double(shape[3]) > 4.0e9)
    fail(op, "output shape " + shape_str(shape) + " has too many elements");
}

// The optional { scale: s | [sh, sw] } (PyTorch's scale_factor): finite and positive; 0 if absent.
std::pair<double, double> scale_option(const Napi::Object& o, const char* op) {
  Napi::Value v = o.Get("scale");
  if (v.IsUndefined() || v.IsNull()) return {0, 0};
  double s[2];
  if (v.IsNumber()) {
    s[0] = s[1] = number_option(o, "scale", 0, op);
  } else {
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 2)
      fail(op, "option 'scale' must be a positive number or a pair [sh, sw]");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < 2; ++i) {
      if (!a.Get(i).IsNumber()) fail(op, "option 'scale' must be a positive number or a pair [sh, sw]");
      s[i] = a.Get(i).As<Napi::Number>().DoubleValue();
    }
  }
  for (double x : s)
    if (!(std::isfinite(x) && x > 0))
      fail(op, "option 'scale' must hold finite positive numbers, got " + std::to_string(x));
  return {s[0], s[1]};
}

// interpolateBilinear(x [B,C,H,W], { size: [Ho, Wo], alignCorners = false, scale? })
Napi::Value InterpolateBilinear(const Napi::CallbackInfo& info) {
  const char* op = "interpolateBilinear";
  JsTensor* x = tensor_arg(info, 0, op, "x", DType::F32, 4);
  Napi::Object o = options_arg(info, 1, op, {"size", "alignCorners", "scale"});
  if (o.Get("size").IsUndefined()) fail(op, "option 'size' ([Ho, Wo]) is required");
  auto size = pair_option(o, "size", 0, op);
  check_side(op, "size[0]", size.first);
  check_side(op, "size[1]", size.second);
  const bool ac = bool_option(o, "alignCorners", false, op);
  const auto scale = scale_option(o, op);
  const Device dev = expect_same_device(op, {x});
  const Shape& xs = x->shape();
  const Shape ys = {xs[0], xs[1], size.first, size.second};
  check_total(op, ys);
  Napi::Object out;
  JsTensor* y = JsTensor::Make(info.Env(), dev, ys, DType::F32, &out);
  ANN_DISPATCH(dev, op, interpolate_bilinear_forward,
               {xs[0] * xs[1], xs[2], xs[3], ys[2], ys[3], ac, scale.first, scale.second}, x->f32(),
               y->f32());
  return out;
}

// interpolateBilinearBackward(dy [B,C,Ho,Wo], { inputShape: [B,C,H,W], alignCorners = false, scale? })
Napi::Value InterpolateBilinearBackward(const Napi::CallbackInfo& info) {
  const char* op = "interpolateBilinearBackward";
  JsTensor* dy = tensor_arg(info, 0, op, "dy", DType::F32, 4);
  Napi::Object o = options_arg(info, 1, op, {"inputShape", "alignCorners", "scale"});
  if (o.Get("inputShape").IsUndefined()) fail(op, "option 'inputShape' ([B, C, H, W]) is required");
  Shape in = int_list_option(o, "inputShape", {}, op);
  const bool ac = bool_option(o, "alignCorners", false, op);
  const auto scale = scale_option(o, op);
  const Device dev = expect_same_device(op, {dy});
  const Shape& ds = dy->shape();
  if (in.size() != 4) fail(op, "option 'inputShape' must have 4 entries [B, C, H, W], got " + shape_str(in));
  if (in[0] != ds[0] || in[1] != ds[1])
    fail(op,
         "inputShape " + shape_str(in) + " does not match the batch and channels of " + dy->describe("dy"));
  check_side(op, "inputShape[2]", in[2]);
  check_side(op, "inputShape[3]", in[3]);
  check_total(op, in);
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, in, DType::F32, &out);
  ANN_DISPATCH(dev, op, interpolate_bilinear_backward,
               {in[0] * in[1], in[2], in[3], ds[2], ds[3], ac, scale.first, scale.second}, dy->f32(),
               dx->f32());
  return out;
}

}  // namespace

ANN_REGISTER_BINDINGS(interp) {
  def(env, exports, "interpolateBilinear", InterpolateBilinear);
  def(env, exports, "interpolateBilinearBackward", InterpolateBilinearBackward);
}

}  // namespace ann::napi
