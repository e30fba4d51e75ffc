// Bindings for pointwise, broadcasting, reduction and channel-dropout kernels. Every argument is
// checked before any memory is touched; outputs are fresh tensors (in-place ops say so).
#include <cmath>
#include <string>
#include <utility>

#include "ann/elementwise.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

using Tensor = JsTensor;

Tensor* input(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Tensor* t = tensor_arg(info, i, op, name);
  if (t->shape().size() > static_cast<size_t>(kMaxRank))
    fail(op,
         t->describe(name) + " has rank " + std::to_string(t->shape().size()) + ", above the maximum of 8");
  return t;
}

// A fresh float32 output on the inputs' device.
Napi::Object make(const Napi::CallbackInfo& info, Device dev, const Shape& shape, Tensor** t) {
  Napi::Object out;
  *t = Tensor::Make(info.Env(), dev, shape, DType::F32, &out);
  return out;
}

// Arguments 0 and 1: two inputs of one shape.
std::pair<Tensor*, Tensor*> same_shape_inputs(const Napi::CallbackInfo& info, const char* op, const char* an,
                                              const char* bn) {
  Tensor* a = input(info, 0, op, an);
  Tensor* b = input(info, 1, op, bn);
  expect_same_device(op, {a, b});
  if (a->shape() != b->shape())
    fail(op, a->describe(an) + " and " + b->describe(bn) + " must have the same shape");
  return {a, b};
}

// A target shape argument: rank <= 8, every dim >= 1.
Shape shape_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Shape s = int_list_arg(info, i, op, "shape");
  if (s.size() > static_cast<size_t>(kMaxRank))
    fail(op, "shape " + shape_str(s) + " has rank " + std::to_string(s.size()) + ", above the maximum of 8");
  for (int64_t d : s)
    if (d < 1) fail(op, "shape " + shape_str(s) + " has a dimension below 1");
  return s;
}

// --- pointwise ---

Napi::Value Relu(const Napi::CallbackInfo& info) {
  const char* op = "relu";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  Tensor* y;
  Napi::Object out = make(info, dev, x->shape(), &y);
  ANN_DISPATCH(dev, op, relu, x->f32(), y->f32(), x->numel());
  return out;
}

Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  const char* op = "reluBackward";
  auto [dy, y] = same_shape_inputs(info, op, "dy", "y");
  const Device dev = dy->device();
  Tensor* dx;
  Napi::Object out = make(info, dev, dy->shape(), &dx);
  ANN_DISPATCH(dev, op, relu_backward, dy->f32(), y->f32(), dx->f32(), dy->numel());
  return out;
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  const char* op = "scale";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  const double alpha = number_arg(info, 1, op, "alpha");
  Tensor* y;
  Napi::Object out = make(info, dev, x->shape(), &y);
  ANN_DISPATCH(dev, op, affine, x->f32(), static_cast<float>(alpha), 0.f, y->f32(), x->numel());
  return out;
}

Napi::Value Affine(const Napi::CallbackInfo& info) {
  const char* op = "affine";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  const double alpha = number_arg(info, 1, op, "alpha");
  const double beta = number_arg(info, 2, op, "beta");
  Tensor* y;
  Napi::Object out = make(info, dev, x->shape(), &y);
  ANN_DISPATCH(dev, op, affine, x->f32(), static_cast<float>(alpha), static_cast<float>(beta), y->f32(),
               x->numel());
  return out;
}

Napi::Value Neg(const Napi::CallbackInfo& info) {
  const char* op = "neg";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  Tensor* y;
  Napi::Object out = make(info, dev, x->shape(), &y);
  ANN_DISPATCH(dev, op, affine, x->f32(), -1.f, 0.f, y->f32(), x->numel());
  return out;
}

Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  const char* op = "addInPlace";
  auto [dst, src] = same_shape_inputs(info, op, "dst", "src");
  const Device dev = dst->device();
  double alpha = 1;
  if (info.Length() > 2 && !info[2].IsUndefined()) alpha = number_arg(info, 2, op, "alpha");
  ANN_DISPATCH(dev, op, axpy_inplace, dst->f32(), src->f32(), static_cast<float>(alpha), dst->numel());
  return info.Env().Undefined();
}

Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  const char* op = "copyInto";
  auto [dst, src] = same_shape_inputs(info, op, "dst", "src");
  const Device dev = dst->device();
  ANN_DISPATCH(dev, op, copy, src->f32(), dst->f32(), dst->numel());
  return info.Env().Undefined();
}

// --- broadcasting ---

template <BinaryOp kOp>
Napi::Value Binary(const Napi::CallbackInfo& info) {
  static const char* names[] = {"add", "sub", "mul", "div"};
  const char* op = names[static_cast<int>(kOp)];
  Tensor* a = input(info, 0, op, "a");
  Tensor* b = input(info, 1, op, "b");
  const Device dev = expect_same_device(op, {a, b});
  Shape shape;
  if (!broadcast_shapes(a->shape(), b->shape(), &shape))
    fail(op, a->describe("a") + " and " + b->describe("b") + " do not broadcast");
  Tensor* y;
  Napi::Object out = make(info, dev, shape, &y);
  ANN_DISPATCH(dev, op, binary, kOp, a->f32(), a->shape(), b->f32(), b->shape(), y->f32());
  return out;
}

Napi::Value BroadcastTo(const Napi::CallbackInfo& info) {
  const char* op = "broadcastTo";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  Shape shape = shape_arg(info, 1, op);
  Shape joined;
  if (shape.size() < x->shape().size() || !broadcast_shapes(x->shape(), shape, &joined) || joined != shape)
    fail(op, x->describe("x") + " cannot be broadcast to " + shape_str(shape));
  Tensor* y;
  Napi::Object out = make(info, dev, shape, &y);
  ANN_DISPATCH(dev, op, broadcast_to, x->f32(), x->shape(), shape, y->f32());
  return out;
}

Napi::Value SumTo(const Napi::CallbackInfo& info) {
  const char* op = "sumTo";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  Shape shape = shape_arg(info, 1, op);
  const Shape& xs = x->shape();
  Shape joined;
  if (shape.size() > xs.size() || !broadcast_shapes(shape, xs, &joined) || joined != xs)
    fail(op, x->describe("x") + " cannot be summed to " + shape_str(shape) + " (" + shape_str(shape) +
                 " does not broadcast to " + shape_str(xs) + ")");
  // Reduce the leading dims shape lacks and every dim where shape has 1 but x does not.
  const size_t lead = xs.size() - shape.size();
  std::vector<bool> reduce(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) reduce[d] = d < lead || (shape[d - lead] == 1 && xs[d] != 1);
  Tensor* y;
  Napi::Object out = make(info, dev, shape, &y);
  ANN_DISPATCH(dev, op, reduce_sum, x->f32(), xs, reduce, 1.0, y->f32());
  return out;
}

// --- reductions ---

Napi::Value Reduce(const Napi::CallbackInfo& info, const char* op, bool mean) {
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  Napi::Object o = options_arg(info, 1, op, {"axes", "keepdim"});
  const Shape& xs = x->shape();
  const int R = static_cast<int>(xs.size());
  const bool keepdim = bool_option(o, "keepdim", false, op);
  std::vector<bool> reduce(R, true);
  Napi::Value axes_v = o.Get("axes");
  if (!axes_v.IsUndefined() && !axes_v.IsNull()) {
    std::vector<int64_t> axes = int_list_option(o, "axes", {}, op);
    if (axes.empty()) fail(op, "option 'axes' is empty (leave it out to reduce every axis)");
    std::fill(reduce.begin(), reduce.end(), false);
    for (int64_t a : axes) {
      if (a < -R || a >= R)
        fail(op, "axis " + std::to_string(a) + " is out of range for " + x->describe("x") + " (rank " +
                     std::to_string(R) + ")");
      const int64_t d = a < 0 ? a + R : a;
      if (reduce[d]) fail(op, "axis " + std::to_string(a) + " appears more than once in 'axes'");
      reduce[d] = true;
    }
  }
  Shape shape;
  int64_t count = 1;
  for (int d = 0; d < R; ++d) {
    if (reduce[d]) {
      count *= xs[d];
      if (keepdim) shape.push_back(1);
    } else {
      shape.push_back(xs[d]);
    }
  }
  Tensor* y;
  Napi::Object out = make(info, dev, shape, &y);
  ANN_DISPATCH(dev, op, reduce_sum, x->f32(), xs, reduce, mean ? 1.0 / static_cast<double>(count) : 1.0,
               y->f32());
  return out;
}

Napi::Value Sum(const Napi::CallbackInfo& info) { return Reduce(info, "sum", false); }
Napi::Value Mean(const Napi::CallbackInfo& info) { return Reduce(info, "mean", true); }

// --- channel dropout ---

void channel_shape(const char* op, const Tensor* x, const char* name) {
  if (x->shape().size() < 2)
    fail(op, x->describe(name) + " must have rank >= 2 ([B, C, ...]), got rank " +
                 std::to_string(x->shape().size()));
}

Napi::Value Dropout2d(const Napi::CallbackInfo& info) {
  const char* op = "dropout2d";
  Tensor* x = input(info, 0, op, "x");
  const Device dev = x->device();
  channel_shape(op, x, "x");
  Napi::Object o = options_arg(info, 1, op, {"p", "training", "seed"});
  Napi::Value pv = o.Get("p");
  if (pv.IsUndefined() || pv.IsNull()) fail(op, "option 'p' is required");
  const double p = number_option(o, "p", 0, op);
  if (!(p >= 0 && p <= 1)) fail(op, "option 'p' must be in [0, 1], got " + std::to_string(p));
  const bool training = bool_option(o, "training", true, op);
  int64_t seed = 0;
  if (training) {
    Napi::Value sv = o.Get("seed");
    if (sv.IsUndefined() || sv.IsNull()) fail(op, "option 'seed' is required when training");
    seed = int_option(o, "seed", 0, op);
    if (seed < 0) fail(op, "option 'seed' must be a non-negative integer, got " + std::to_string(seed));
  }
  const int64_t channels = x->shape()[0] * x->shape()[1];
  const int64_t inner = x->numel() / channels;
  Tensor* mask;
  Napi::Object mask_obj = make(info, dev, {x->shape()[0], x->shape()[1]}, &mask);
  if (training)
    ANN_DISPATCH(dev, op, dropout_mask, static_cast<uint64_t>(seed), p, channels, mask->f32());
  else
    ANN_DISPATCH(dev, op, fill, mask->f32(), 1.f, channels);
  Tensor* y;
  Napi::Object y_obj = make(info, dev, x->shape(), &y);
  if (training)
    ANN_DISPATCH(dev, op, channel_scale, x->f32(), mask->f32(), channels, inner, y->f32());
  else
    ANN_DISPATCH(dev, op, copy, x->f32(), y->f32(), x->numel());
  return make_result(info.Env(), {{"y", y_obj}, {"mask", mask_obj}});
}

Napi::Value Dropout2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "dropout2dBackward";
  Tensor* dy = input(info, 0, op, "dy");
  channel_shape(op, dy, "dy");
  Tensor* mask = input(info, 1, op, "mask");
  const Device dev = expect_same_device(op, {dy, mask});
  expect_shape(op, "mask", mask, {dy->shape()[0], dy->shape()[1]});
  const int64_t channels = mask->numel();
  Tensor* dx;
  Napi::Object out = make(info, dev, dy->shape(), &dx);
  ANN_DISPATCH(dev, op, channel_scale, dy->f32(), mask->f32(), channels, dy->numel() / channels, dx->f32());
  return out;
}

}  // namespace

ANN_REGISTER_BINDINGS(elementwise) {
  def(env, exports, "relu", Relu);
  def(env, exports, "reluBackward", ReluBackward);
  def(env, exports, "scale", Scale);
  def(env, exports, "affine", Affine);
  def(env, exports, "neg", Neg);
  def(env, exports, "addInPlace", AddInPlace);
  def(env, exports, "copyInto", CopyInto);
  def(env, exports, "add", Binary<BinaryOp::Add>);
  def(env, exports, "sub", Binary<BinaryOp::Sub>);
  def(env, exports, "mul", Binary<BinaryOp::Mul>);
  def(env, exports, "div", Binary<BinaryOp::Div>);
  def(env, exports, "broadcastTo", BroadcastTo);
  def(env, exports, "sumTo", SumTo);
  def(env, exports, "sum", Sum);
  def(env, exports, "mean", Mean);
  def(env, exports, "dropout2d", Dropout2d);
  def(env, exports, "dropout2dBackward", Dropout2dBackward);
}

}  // namespace ann::napi
