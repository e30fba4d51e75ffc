// Loss-family bindings: softmax, logSoftmax, their backward, argmax, crossEntropy and
// ohemCrossEntropy with their backward.
#include <cmath>

#include "ann/loss.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

// [outer, n, inner] around a (possibly negative) axis of x.
struct AxisView {
  int64_t axis, outer = 1, n = 1, inner = 1;
};

AxisView axis_view(const char* op, const JsTensor* x, const Napi::Object& o) {
  const Shape& s = x->shape();
  const int64_t rank = static_cast<int64_t>(s.size());
  int64_t axis = int_option(o, "axis", -1, op);
  if (rank == 0) fail(op, x->describe("x") + " has no axis to reduce");
  if (axis < -rank || axis >= rank)
    fail(op, "axis " + std::to_string(axis) + " is out of range for " + x->describe("x"));
  if (axis < 0) axis += rank;
  AxisView v;
  v.axis = axis;
  for (int64_t i = 0; i < rank; ++i) {
    if (i < axis)
      v.outer *= s[i];
    else if (i == axis)
      v.n = s[i];
    else
      v.inner *= s[i];
  }
  return v;
}

Napi::Value SoftmaxImpl(const Napi::CallbackInfo& info, const char* op, bool log) {
  JsTensor* x = tensor_arg(info, 0, op, "x");
  Napi::Object o = options_arg(info, 1, op, {"axis"});
  const Device dev = expect_same_device(op, {x});
  const AxisView v = axis_view(op, x, o);
  Napi::Object out;
  JsTensor* y = JsTensor::Make(info.Env(), dev, x->shape(), DType::F32, &out);
  ANN_DISPATCH(dev, op, softmax_forward, x->f32(), y->f32(), v.outer, v.n, v.inner, log);
  return out;
}

Napi::Value SoftmaxBackwardImpl(const Napi::CallbackInfo& info, const char* op, bool log) {
  JsTensor* dy = tensor_arg(info, 0, op, "dy");
  JsTensor* y = tensor_arg(info, 1, op, "y");
  Napi::Object o = options_arg(info, 2, op, {"axis"});
  const Device dev = expect_same_device(op, {dy, y});
  if (dy->shape() != y->shape())
    fail(op, dy->describe("dy") + " does not match the shape of " + y->describe("y"));
  const AxisView v = axis_view(op, y, o);
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, y->shape(), DType::F32, &out);
  ANN_DISPATCH(dev, op, softmax_backward, dy->f32(), y->f32(), dx->f32(), v.outer, v.n, v.inner, log);
  return out;
}

Napi::Value Softmax(const Napi::CallbackInfo& info) { return SoftmaxImpl(info, "softmax", false); }
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) { return SoftmaxImpl(info, "logSoftmax", true); }
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  return SoftmaxBackwardImpl(info, "softmaxBackward", false);
}
Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  return SoftmaxBackwardImpl(info, "logSoftmaxBackward", true);
}

// argmax(x, { axis = -1 }) -> int32 with that axis removed.
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  const char* op = "argmax";
  JsTensor* x = tensor_arg(info, 0, op, "x");
  Napi::Object o = options_arg(info, 1, op, {"axis"});
  const Device dev = expect_same_device(op, {x});
  const AxisView v = axis_view(op, x, o);
  if (v.n > 2147483647) fail(op, "axis of size " + std::to_string(v.n) + " does not fit int32 indices");
  Shape ys;
  for (size_t i = 0; i < x->shape().size(); ++i)
    if (static_cast<int64_t>(i) != v.axis) ys.push_back(x->shape()[i]);
  Napi::Object out;
  JsTensor* y = JsTensor::Make(info.Env(), dev, ys, DType::I32, &out);
  ANN_DISPATCH(dev, op, argmax, x->f32(), y->i32(), v.outer, v.n, v.inner);
  return out;
}

// --- cross-entropy ------------------------------------------------------------------------

std::string index_str(const Shape& shape, int64_t flat) {
  Shape at(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    at[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(at);
}

// logits [N, K, d1...] with target [N, d1...]: the shape the kernels see.
CrossEntropyShape ce_shape(const char* op, const JsTensor* logits, const JsTensor* target,
                           int64_t ignore_index) {
  const Shape& ls = logits->shape();
  if (ls.size() < 2) fail(op, logits->describe("logits") + ": expected rank >= 2 ([N, K] or [B, K, H, W])");
  Shape want = {ls[0]};
  for (size_t i = 2; i < ls.size(); ++i) want.push_back(ls[i]);
  if (target->shape() != want)
    fail(op, target->describe("target") + " does not match " + logits->describe("logits") +
                 ": expected target shape " + shape_str(want));
  CrossEntropyShape s;
  s.batch = ls[0];
  s.classes = ls[1];
  s.inner = target->numel() / ls[0];
  s.ignore_index = ignore_index;
  return s;
}

// Runs on the target's device; only the position found (and its label, for the message) come back.
void check_targets(const char* op, const JsTensor* target, const CrossEntropyShape& s) {
  const int64_t bad = ANN_DISPATCH(target->device(), op, find_bad_target, target->i32(), target->numel(),
                                   s.classes, s.ignore_index);
  if (bad >= 0)
    fail(op, "target" + index_str(target->shape(), bad) + " = " +
                 std::to_string(target->value_at<int32_t>(bad)) + " is not a class in [0, " +
                 std::to_string(s.classes) + ") nor ignoreIndex (" + std::to_string(s.ignore_index) + ")");
}

const float* weight_option(const char* op, const Napi::Object& o, const JsTensor* logits, int64_t classes) {
  Napi::Value v = o.Get("weight");
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!JsTensor::Is(v))
    fail(op, "option 'weight' must be a float32 tensor of shape [" + std::to_string(classes) + "]");
  JsTensor* w = JsTensor::Live(v.As<Napi::Object>(), op, "weight");
  if (w->dtype() != DType::F32) fail(op, w->describe("weight") + ": expected dtype float32");
  if (w->shape() != Shape{classes})
    fail(op, w->describe("weight") + " does not match the " + std::to_string(classes) + " classes of " +
                 logits->describe("logits"));
  expect_same_device(op, {logits, w});
  return w->f32();
}

Reduction reduction_option(const char* op, const Napi::Object& o) {
  const std::string r = string_option(o, "reduction", "mean", op);
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  fail(op, "option 'reduction' must be 'mean', 'sum' or 'none', got '" + r + "'");
}

// A scalar upstream gradient: shape [] or [1].
void expect_scalar_grad(const char* op, const JsTensor* dloss) {
  if (dloss->numel() != 1) fail(op, dloss->describe("dloss") + ": expected one value (shape [] or [1])");
}

struct CeArgs {
  JsTensor* logits;
  JsTensor* target;
  CrossEntropyShape s;
  const float* weight;
  Device device;
};

// (logits, target, options) starting at argument `first`, all checked, labels included.
CeArgs ce_args(const Napi::CallbackInfo& info, size_t first, const char* op, int64_t dflt_ignore,
               std::initializer_list<const char*> names, Napi::Object* opts,
               std::initializer_list<const JsTensor*> others) {
  CeArgs a;
  a.logits = tensor_arg(info, first, op, "logits");
  a.target = tensor_arg(info, first + 1, op, "target", DType::I32);
  *opts = options_arg(info, first + 2, op, names);
  a.device = expect_same_device(op, {a.logits, a.target});
  for (const JsTensor* t : others) expect_same_device(op, {a.logits, t});
  a.s = ce_shape(op, a.logits, a.target, int_option(*opts, "ignoreIndex", dflt_ignore, op));
  a.weight = weight_option(op, *opts, a.logits, a.s.classes);
  check_targets(op, a.target, a.s);
  return a;
}

Shape loss_shape(Reduction r, const JsTensor* target) {
  return r == Reduction::None ? target->shape() : Shape{};
}

// crossEntropy(logits, target, { weight?, ignoreIndex = -100, reduction = 'mean' }) -> { loss }
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  Napi::Object o;
  CeArgs a = ce_args(info, 0, op, -100, {"weight", "ignoreIndex", "reduction"}, &o, {});
  const Reduction r = reduction_option(op, o);
  const Device dev = a.device;
  Napi::Object loss;
  JsTensor* l = JsTensor::Make(info.Env(), dev, loss_shape(r, a.target), DType::F32, &loss);
  ANN_DISPATCH(dev, op, cross_entropy_forward, a.s, a.logits->f32(), a.target->i32(), a.weight, r, l->f32());
  return make_result(info.Env(), {{"loss", loss}});
}

// crossEntropyBackward(dloss, logits, target, options) -> dlogits
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropyBackward";
  JsTensor* dloss = tensor_arg(info, 0, op, "dloss");
  Napi::Object o;
  CeArgs a = ce_args(info, 1, op, -100, {"weight", "ignoreIndex", "reduction"}, &o, {dloss});
  const Reduction r = reduction_option(op, o);
  const Device dev = a.device;
  if (r == Reduction::None)
    expect_shape(op, "dloss", dloss, a.target->shape());
  else
    expect_scalar_grad(op, dloss);
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, a.logits->shape(), DType::F32, &out);
  ANN_DISPATCH(dev, op, cross_entropy_backward, a.s, dloss->f32(), a.logits->f32(), a.target->i32(), a.weight,
               r, dx->f32());
  return out;
}

OhemOptions ohem_options(const char* op, const Napi::Object& o) {
  OhemOptions h;
  h.thresh = number_option(o, "thresh", 0.7, op);
  if (!std::isfinite(h.thresh)) fail(op, "option 'thresh' must be finite, got " + std::to_string(h.thresh));
  h.min_kept = int_option(o, "minKept", 100000, op);
  if (h.min_kept < 0) fail(op, "option 'minKept' must be >= 0, got " + std::to_string(h.min_kept));
  return h;
}

// ohemCrossEntropy(logits, target, { thresh = 0.7, minKept = 100000, weight?, ignoreIndex = 255 })
//   -> { loss, kept, threshold }
Napi::Value OhemCrossEntropy(const Napi::CallbackInfo& info) {
  const char* op = "ohemCrossEntropy";
  Napi::Object o;
  CeArgs a = ce_args(info, 0, op, 255, {"thresh", "minKept", "weight", "ignoreIndex"}, &o, {});
  const OhemOptions h = ohem_options(op, o);
  const Device dev = a.device;
  const OhemResult res =
      ANN_DISPATCH(dev, op, ohem_cross_entropy_forward, a.s, h, a.logits->f32(), a.target->i32(), a.weight);
  Napi::Env env = info.Env();
  Napi::Object loss, kept;
  const int32_t kept_count = static_cast<int32_t>(res.kept);
  JsTensor::Make(env, dev, {}, DType::F32, &loss)->copy_in(&res.loss, sizeof res.loss);
  JsTensor::Make(env, dev, {}, DType::I32, &kept)->copy_in(&kept_count, sizeof kept_count);
  return make_result(env,
                     {{"loss", loss}, {"kept", kept}, {"threshold", Napi::Number::New(env, res.threshold)}});
}

// ohemCrossEntropyBackward(dloss, logits, target, options) -> dlogits
Napi::Value OhemCrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* op = "ohemCrossEntropyBackward";
  JsTensor* dloss = tensor_arg(info, 0, op, "dloss");
  Napi::Object o;
  CeArgs a = ce_args(info, 1, op, 255, {"thresh", "minKept", "weight", "ignoreIndex", "threshold", "kept"},
                     &o, {dloss});
  const OhemOptions h = ohem_options(op, o);
  expect_scalar_grad(op, dloss);
  const float g = dloss->value_at<float>(0);  // the kernel takes it by value: one copy back
  const Device dev = a.device;
  // The forward's selection, when given, spares the backward a pass over the logits and the select.
  const bool has_thr = !o.Get("threshold").IsUndefined(), has_kept = !o.Get("kept").IsUndefined();
  if (has_thr != has_kept) fail(op, "options 'threshold' and 'kept' (the forward's result) go together");
  OhemSelection known;
  if (has_thr) {
    known.threshold = number_option(o, "threshold", 0, op);
    Napi::Value k = o.Get("kept");
    if (JsTensor::Is(k)) {
      const JsTensor* t = JsTensor::Live(k.As<Napi::Object>(), op, "kept");
      if (t->dtype() != DType::I32 || t->numel() != 1)
        fail(op,
             "option 'kept' must be a number or the forward's int32 [] tensor, got " + t->describe("kept"));
      expect_same_device(op, {a.logits, t});
      known.kept = t->value_at<int32_t>(0);
    } else {
      known.kept = int_option(o, "kept", 0, op);
    }
    if (known.kept < 0 || known.kept > a.s.pixels())
      fail(op, "option 'kept' must be between 0 and the " + std::to_string(a.s.pixels()) + " pixels, got " +
                   std::to_string(known.kept));
  }
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, a.logits->shape(), DType::F32, &out);
  ANN_DISPATCH(dev, op, ohem_cross_entropy_backward, a.s, h, g, a.logits->f32(), a.target->i32(), a.weight,
               dx->f32(), has_thr ? &known : nullptr);
  return out;
}

}  // namespace

ANN_REGISTER_BINDINGS(loss) {
  def(env, exports, "softmax", Softmax);
  def(env, exports, "logSoftmax", LogSoftmax);
  def(env, exports, "softmaxBackward", SoftmaxBackward);
  def(env, exports, "logSoftmaxBackward", LogSoftmaxBackward);
  def(env, exports, "argmax", Argmax);
  def(env, exports, "crossEntropy", CrossEntropy);
  def(env, exports, "crossEntropyBackward", CrossEntropyBackward);
  def(env, exports, "ohemCrossEntropy", OhemCrossEntropy);
  def(env, exports, "ohemCrossEntropyBackward", OhemCrossEntropyBackward);
}

}  // namespace ann::napi
