// Bindings of the pool family: max pool 2d, fused pyramid pooling, and position sampling /
// gathering. Every argument is checked here, before any kernel touches memory.
#include <algorithm>
#include <limits>

#include "ann/pool.h"
#include "args.h"
#include "device.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

constexpr int64_t kMaxOption = int64_t(1) << 24;
constexpr int64_t kMaxPlane = std::numeric_limits<int32_t>::max();  // flat indices are int32

std::string str(int64_t v) { return std::to_string(v); }

// A tensor passed inside the options object, checked like tensor_arg.
JsTensor* tensor_option(const Napi::Object& o, const char* key, const char* op, DType dtype, int rank) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!JsTensor::Is(v)) fail(op, std::string("option '") + key + "' must be a tensor");
  JsTensor* t = JsTensor::Live(v.As<Napi::Object>(), op, key);
  if (t->dtype() != dtype) fail(op, t->describe(key) + ": expected dtype " + dtype_name(dtype));
  if (static_cast<int>(t->shape().size()) != rank)
    fail(op, t->describe(key) + ": expected rank " + str(rank) + ", got rank " + str(t->shape().size()));
  if (t->numel() == 0) fail(op, t->describe(key) + " is empty");
  return t;
}

// An input shape [B,C,H,W] of positive sizes whose planes index in int32.
Shape checked_input_shape(const char* op, const std::vector<int64_t>& s) {
  if (s.size() != 4) fail(op, "inputShape must be [B,C,H,W], got " + shape_str(s));
  for (int64_t d : s)
    if (d < 1) fail(op, "inputShape " + shape_str(s) + " must have positive sizes");
  if (s[2] * s[3] > kMaxPlane) fail(op, "inputShape " + shape_str(s) + ": H*W exceeds the int32 index range");
  if (static_cast<double>(s[0]) * s[1] * s[2] * s[3] > 4.0e9)
    fail(op, "inputShape " + shape_str(s) + " is too large");
  return s;
}

void check_plane(const char* op, const JsTensor* x) {
  if (x->shape()[2] * x->shape()[3] > kMaxPlane)
    fail(op, x->describe("x") + ": H*W exceeds the int32 index range");
}

// Runs on the tensor's device; only the position found (and its value, for the message) come back.
void check_indices(const char* op, const char* name, const JsTensor* t, int64_t hw, const Shape& plane) {
  const int64_t i = ANN_DISPATCH(t->device(), op, find_bad_index, t->i32(), t->numel(), hw);
  if (i >= 0)
    fail(op, t->describe(name) + " holds " + str(t->value_at<int32_t>(i)) + " at flat position " + str(i) +
                 ", outside [0, " + str(hw) + ") for planes " + shape_str(plane));
}

// ----- max pool 2d -----

std::pair<int64_t, int64_t> positive_pair(const Napi::Object& o, const char* key, int64_t dflt, int64_t min,
                                          const char* op) {
  auto v = pair_option(o, key, dflt, op);
  for (int64_t x : {v.first, v.second})
    if (x < min || x > kMaxOption)
      fail(op, std::string("option '") + key + "' must be in [" + str(min) + ", " + str(kMaxOption) +
                   "], got " + str(x));
  return v;
}

// maxPool2d(x [B,C,H,W], {kernelSize, stride = kernelSize, padding = 0, dilation = 1, ceilMode = false})
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  JsTensor* x = tensor_arg(info, 0, op, "x", DType::F32, 4);
  const Device dev = expect_same_device(op, {x});
  check_plane(op, x);
  Napi::Object o = options_arg(info, 1, op, {"kernelSize", "stride", "padding", "dilation", "ceilMode"});
  if (o.Get("kernelSize").IsUndefined()) fail(op, "option 'kernelSize' is required");
  const auto k = positive_pair(o, "kernelSize", 1, 1, op);
  const auto s =
      o.Get("stride").IsUndefined() || o.Get("stride").IsNull() ? k : positive_pair(o, "stride", 1, 1, op);
  const auto pad = positive_pair(o, "padding", 0, 0, op);
  const auto d = positive_pair(o, "dilation", 1, 1, op);
  const bool ceil_mode = bool_option(o, "ceilMode", false, op);
  if (pad.first > k.first / 2 || pad.second > k.second / 2)
    fail(op, "padding [" + str(pad.first) + "," + str(pad.second) + "] must be at most half of kernelSize [" +
                 str(k.first) + "," + str(k.second) + "]");
  const Shape& xs = x->shape();
  const int64_t oh = pool_output_size(xs[2], k.first, s.first, pad.first, d.first, ceil_mode);
  const int64_t ow = pool_output_size(xs[3], k.second, s.second, pad.second, d.second, ceil_mode);
  if (oh < 1 || ow < 1)
    fail(op, x->describe("x") + " with kernelSize [" + str(k.first) + "," + str(k.second) + "], dilation [" +
                 str(d.first) + "," + str(d.second) + "], padding [" + str(pad.first) + "," +
                 str(pad.second) + "] gives output size " + str(oh) + "x" + str(ow) + ", which is too small");
  const MaxPool2dParams p{k.first,    k.second, s.first,  s.second, pad.first,
                          pad.second, d.first,  d.second, ceil_mode};
  Napi::Env env = info.Env();
  Napi::Object yo, io;
  JsTensor* y = JsTensor::Make(env, dev, {xs[0], xs[1], oh, ow}, DType::F32, &yo);
  JsTensor* idx = JsTensor::Make(env, dev, {xs[0], xs[1], oh, ow}, DType::I32, &io);
  ANN_DISPATCH(dev, op, max_pool2d_forward, x->f32(), y->f32(), idx->i32(), xs[0] * xs[1], xs[2], xs[3], oh,
               ow, p);
  return make_result(env, {{"y", yo}, {"indices", io}});
}

// maxPool2dBackward(dy [B,C,OH,OW], indices int32 [B,C,OH,OW], inputShape [B,C,H,W]) -> dx
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  JsTensor* dy = tensor_arg(info, 0, op, "dy", DType::F32, 4);
  JsTensor* idx = tensor_arg(info, 1, op, "indices", DType::I32, 4);
  const Device dev = expect_same_device(op, {dy, idx});
  const Shape in = checked_input_shape(op, int_list_arg(info, 2, op, "inputShape"));
  expect_shape(op, "indices", idx, dy->shape());
  const Shape& gs = dy->shape();
  if (gs[0] != in[0] || gs[1] != in[1])
    fail(op, dy->describe("dy") + " does not match inputShape " + shape_str(in) + " in batch and channels");
  check_indices(op, "indices", idx, in[2] * in[3], {in[2], in[3]});
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, in, DType::F32, &out);
  ANN_DISPATCH(dev, op, max_pool2d_backward, dy->f32(), idx->i32(), dx->f32(), in[0] * in[1], in[2], in[3],
               gs[2], gs[3]);
  return out;
}

// ----- pyramid pooling -----

std::vector<int64_t> sizes_option(const Napi::Object& o, const char* op) {
  std::vector<int64_t> sizes = int_list_option(o, "sizes", {1, 3, 6, 8}, op);
  if (sizes.empty()) fail(op, "option 'sizes' must be a non-empty list of positive integers, got []");
  for (int64_t n : sizes)
    if (n < 1 || n > 4096)
      fail(op, "option 'sizes' must hold positive integers up to 4096, got " + shape_str(sizes));
  return sizes;
}

bool max_mode_option(const Napi::Object& o, const char* op) {
  const std::string mode = string_option(o, "mode", "avg", op);
  if (mode != "avg" && mode != "max") fail(op, "option 'mode' must be 'avg' or 'max', got '" + mode + "'");
  return mode == "max";
}

// pyramidPool(x [B,C,H,W], {sizes = [1,3,6,8], mode = 'avg'}) -> {y [B,C,S], indices? int32 [B,C,S]}
Napi::Value PyramidPool(const Napi::CallbackInfo& info) {
  const char* op = "pyramidPool";
  JsTensor* x = tensor_arg(info, 0, op, "x", DType::F32, 4);
  const Device dev = expect_same_device(op, {x});
  check_plane(op, x);
  Napi::Object o = options_arg(info, 1, op, {"sizes", "mode"});
  const std::vector<int64_t> sizes = sizes_option(o, op);
  const bool max_mode = max_mode_option(o, op);
  const Shape& xs = x->shape();
  const int64_t S = pyramid_total(sizes);
  if (static_cast<double>(xs[0]) * xs[1] * S > 4.0e9)
    fail(op, x->describe("x") + " with " + str(S) + " anchors per plane gives too large an output");
  Napi::Env env = info.Env();
  Napi::Object yo, io;
  JsTensor* y = JsTensor::Make(env, dev, {xs[0], xs[1], S}, DType::F32, &yo);
  JsTensor* idx = optional_output(max_mode, env, dev, {xs[0], xs[1], S}, &io, DType::I32);
  ANN_DISPATCH(dev, op, pyramid_pool_forward, x->f32(), y->f32(), idx ? idx->i32() : nullptr, xs[0] * xs[1],
               xs[2], xs[3], sizes, max_mode);
  if (!max_mode) return make_result(env, {{"y", yo}});
  return make_result(env, {{"y", yo}, {"indices", io}});
}

// pyramidPoolBackward(dy [B,C,S], {inputShape, sizes, mode, indices (max only)}) -> dx [B,C,H,W]
Napi::Value PyramidPoolBackward(const Napi::CallbackInfo& info) {
  const char* op = "pyramidPoolBackward";
  JsTensor* dy = tensor_arg(info, 0, op, "dy", DType::F32, 3);
  Napi::Object o = options_arg(info, 1, op, {"inputShape", "sizes", "mode", "indices"});
  JsTensor* idx = tensor_option(o, "indices", op, DType::I32, 3);
  const Device dev = expect_same_device(op, {dy, idx});
  if (o.Get("inputShape").IsUndefined()) fail(op, "option 'inputShape' is required");
  const Shape in = checked_input_shape(op, int_list_option(o, "inputShape", {}, op));
  const std::vector<int64_t> sizes = sizes_option(o, op);
  const bool max_mode = max_mode_option(o, op);
  const int64_t S = pyramid_total(sizes);
  expect_shape(op, "dy", dy, {in[0], in[1], S});
  if (max_mode && !idx)
    fail(op, "option 'indices' (from pyramidPool with mode 'max') is required for mode 'max'");
  if (!max_mode && idx) fail(op, "option 'indices' is only used with mode 'max'");
  if (idx) {
    expect_shape(op, "indices", idx, dy->shape());
    check_indices(op, "indices", idx, in[2] * in[3], {in[2], in[3]});
  }
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, in, DType::F32, &out);
  ANN_DISPATCH(dev, op, pyramid_pool_backward, dy->f32(), idx ? idx->i32() : nullptr, dx->f32(),
               in[0] * in[1], in[2], in[3], sizes, max_mode);
  return out;
}

// ----- sampling and gathering -----

// samplePositions({height, width, sizes | n, mode = 'pyramid' | 'plain', seed = 0, batch = 1,
// device = 'cpu'}) -> int32 [batch, S]
Napi::Value SamplePositions(const Napi::CallbackInfo& info) {
  const char* op = "samplePositions";
  Napi::Object o =
      options_arg(info, 0, op, {"height", "width", "sizes", "n", "mode", "seed", "batch", "device"});
  const Device dev = parse_device(string_option(o, "device", "cpu", op), op);
  require_device(dev, op);
  const int64_t h = int_option(o, "height", -1, op), w = int_option(o, "width", -1, op);
  if (h < 1 || w < 1)
    fail(op, "options 'height' and 'width' must be positive integers, got " + str(h) + "x" + str(w));
  if (h > kMaxPlane || w > kMaxPlane || h * w > kMaxPlane)
    fail(op, str(h) + "x" + str(w) + ": height*width exceeds the int32 index range");
  const bool has_n = !o.Get("n").IsUndefined() && !o.Get("n").IsNull();
  const bool has_sizes = !o.Get("sizes").IsUndefined() && !o.Get("sizes").IsNull();
  if (has_n && has_sizes) fail(op, "give either 'sizes' or 'n', not both");
  std::vector<int64_t> sizes = sizes_option(o, op);
  if (has_n) {
    const int64_t n = int_option(o, "n", 1, op);
    if (n < 1 || n > 4096) fail(op, "option 'n' must be a positive integer up to 4096, got " + str(n));
    sizes = {n};
  }
  const std::string mode = string_option(o, "mode", "pyramid", op);
  if (mode != "pyramid" && mode != "plain")
    fail(op, "option 'mode' must be 'pyramid' or 'plain', got '" + mode + "'");
  const int64_t seed = int_option(o, "seed", 0, op);
  if (seed < 0) fail(op, "option 'seed' must be a non-negative integer, got " + str(seed));
  const int64_t batch = int_option(o, "batch", 1, op);
  if (batch < 1) fail(op, "option 'batch' must be a positive integer, got " + str(batch));
  const int64_t S = pyramid_total(sizes);
  if (mode == "plain" && S > h * w)
    fail(op, "cannot pick " + str(S) + " distinct positions from a " + str(h) + "x" + str(w) + " map");
  if (static_cast<double>(batch) * S > 1.0e9)
    fail(op, "batch " + str(batch) + " x " + str(S) + " positions is too large");
  Napi::Object out;
  JsTensor* pos = JsTensor::Make(info.Env(), dev, {batch, S}, DType::I32, &out);
  if (mode == "pyramid")
    ANN_DISPATCH(dev, op, sample_pyramid_positions, pos->i32(), batch, h, w, sizes,
                 static_cast<uint64_t>(seed));
  else
    ANN_DISPATCH(dev, op, sample_plain_positions, pos->i32(), batch, h, w, S, static_cast<uint64_t>(seed));
  return out;
}

// gatherPositions(x [B,C,H,W], positions int32 [B,S]) -> [B,C,S]
Napi::Value GatherPositions(const Napi::CallbackInfo& info) {
  const char* op = "gatherPositions";
  JsTensor* x = tensor_arg(info, 0, op, "x", DType::F32, 4);
  JsTensor* pos = tensor_arg(info, 1, op, "positions", DType::I32, 2);
  const Device dev = expect_same_device(op, {x, pos});
  check_plane(op, x);
  const Shape& xs = x->shape();
  if (pos->shape()[0] != xs[0])
    fail(op, pos->describe("positions") + " has batch " + str(pos->shape()[0]) + " but " + x->describe("x") +
                 " has batch " + str(xs[0]));
  check_indices(op, "positions", pos, xs[2] * xs[3], {xs[2], xs[3]});
  const int64_t S = pos->shape()[1];
  Napi::Object out;
  JsTensor* y = JsTensor::Make(info.Env(), dev, {xs[0], xs[1], S}, DType::F32, &out);
  ANN_DISPATCH(dev, op, gather_positions_forward, x->f32(), pos->i32(), y->f32(), xs[0], xs[1], xs[2] * xs[3],
               S);
  return out;
}

// gatherPositionsBackward(dy [B,C,S], positions int32 [B,S], inputShape [B,C,H,W]) -> dx
Napi::Value GatherPositionsBackward(const Napi::CallbackInfo& info) {
  const char* op = "gatherPositionsBackward";
  JsTensor* dy = tensor_arg(info, 0, op, "dy", DType::F32, 3);
  JsTensor* pos = tensor_arg(info, 1, op, "positions", DType::I32, 2);
  const Device dev = expect_same_device(op, {dy, pos});
  const Shape in = checked_input_shape(op, int_list_arg(info, 2, op, "inputShape"));
  const int64_t S = pos->shape()[1];
  expect_shape(op, "positions", pos, {in[0], S});
  expect_shape(op, "dy", dy, {in[0], in[1], S});
  check_indices(op, "positions", pos, in[2] * in[3], {in[2], in[3]});
  Napi::Object out;
  JsTensor* dx = JsTensor::Make(info.Env(), dev, in, DType::F32, &out);
  ANN_DISPATCH(dev, op, gather_positions_backward, dy->f32(), pos->i32(), dx->f32(), in[0], in[1],
               in[2] * in[3], S);
  return out;
}

}  // namespace

ANN_REGISTER_BINDINGS(pool) {
  def(env, exports, "maxPool2d", MaxPool2d);
  def(env, exports, "maxPool2dBackward", MaxPool2dBackward);
  def(env, exports, "pyramidPool", PyramidPool);
  def(env, exports, "pyramidPoolBackward", PyramidPoolBackward);
  def(env, exports, "samplePositions", SamplePositions);
  def(env, exports, "gatherPositions", GatherPositions);
  def(env, exports, "gatherPositionsBackward", GatherPositionsBackward);
}

}  // namespace ann::napi
