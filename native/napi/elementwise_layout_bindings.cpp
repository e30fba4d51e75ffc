// Bindings for layout ops (permute, cat, split, narrow) and the batched matmul.
#include <algorithm>
#include <string>

#include "ann/elementwise.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

using Tensor = JsTensor;

void check_rank(const char* op, const Tensor* t, const std::string& name, size_t min_rank) {
  const size_t r = t->shape().size();
  if (r > static_cast<size_t>(kMaxRank))
    fail(op, t->describe(name.c_str()) + " has rank " + std::to_string(r) + ", above the maximum of 8");
  if (r < min_rank)
    fail(op, t->describe(name.c_str()) + " must have rank >= " + std::to_string(min_rank) + ", got rank " +
                 std::to_string(r));
}

Tensor* input(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, size_t min_rank) {
  Tensor* t = tensor_arg(info, i, op, name);
  check_rank(op, t, name, min_rank);
  return t;
}

// A live, non-empty float32 tensor from an array entry (tensor_arg's checks for a Napi::Value).
Tensor* list_entry(Napi::Value v, const char* op, const std::string& name) {
  if (!Tensor::Is(v)) fail(op, "'" + name + "' must be a tensor");
  Tensor* t = Tensor::Live(v.As<Napi::Object>(), op, name);
  if (t->dtype() != DType::F32) fail(op, t->describe(name.c_str()) + ": expected dtype float32");
  if (t->numel() == 0) fail(op, t->describe(name.c_str()) + " is empty");
  return t;
}

int64_t axis_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const Tensor* t,
                 const char* name) {
  const int64_t R = static_cast<int64_t>(t->shape().size());
  const int64_t a = int_arg(info, i, op, "axis");
  if (a < -R || a >= R)
    fail(op, "axis " + std::to_string(a) + " is out of range for " + t->describe(name) + " (rank " +
                 std::to_string(R) + ")");
  return a < 0 ? a + R : a;
}

// Rows and row length of the 2-D view [outer, shape[axis] * inner] used by cat/split/narrow.
void outer_inner(const Shape& s, int64_t axis, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t d = 0; d < axis; ++d) *outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) *inner *= s[d];
}

Napi::Value Permute(const Napi::CallbackInfo& info) {
  const char* op = "permute";
  Tensor* x = input(info, 0, op, "x", 0);
  const Device dev = x->device();
  const Shape& xs = x->shape();
  const int R = static_cast<int>(xs.size());
  std::vector<int64_t> raw = int_list_arg(info, 1, op, "dims");
  if (static_cast<int>(raw.size()) != R)
    fail(op, "dims " + shape_str(raw) + " has " + std::to_string(raw.size()) + " entries but " +
                 x->describe("x") + " has rank " + std::to_string(R));
  std::vector<int> dims(R);
  std::vector<bool> seen(R, false);
  Shape shape(R);
  for (int i = 0; i < R; ++i) {
    int64_t d = raw[i];
    if (d < -R || d >= R)
      fail(op, "dims " + shape_str(raw) + " is not a permutation of the " + std::to_string(R) + " axes");
    if (d < 0) d += R;
    if (seen[d]) fail(op, "dims " + shape_str(raw) + " repeats axis " + std::to_string(d));
    seen[d] = true;
    dims[i] = static_cast<int>(d);
    shape[i] = xs[d];
  }
  Napi::Object out;
  Tensor* y = Tensor::Make(info.Env(), dev, shape, DType::F32, &out);
  ANN_DISPATCH(dev, op, permute, x->f32(), xs, dims, y->f32());
  return out;
}

Napi::Value Cat(const Napi::CallbackInfo& info) {
  const char* op = "cat";
  if (!info[0].IsArray()) fail(op, "argument 'tensors' must be an array of tensors");
  Napi::Array arr = info[0].As<Napi::Array>();
  if (arr.Length() == 0) fail(op, "argument 'tensors' is an empty array");
  std::vector<Tensor*> ts;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Tensor* t = list_entry(arr.Get(i), op, "tensors[" + std::to_string(i) + "]");
    check_rank(op, t, "tensors[" + std::to_string(i) + "]", 1);
    if (i > 0) expect_same_device(op, {ts[0], t});
    ts.push_back(t);
  }
  const Device dev = ts[0]->device();
  const int64_t axis = axis_arg(info, 1, op, ts[0], "tensors[0]");
  Shape shape = ts[0]->shape();
  shape[axis] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Shape& s = ts[i]->shape();
    bool ok = s.size() == shape.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = d == static_cast<size_t>(axis) || s[d] == shape[d];
    if (!ok)
      fail(op, ts[i]->describe(("tensors[" + std::to_string(i) + "]").c_str()) + " does not match " +
                   ts[0]->describe("tensors[0]") + " outside axis " + std::to_string(axis));
    shape[axis] += s[axis];
  }
  Napi::Object out;
  Tensor* y = Tensor::Make(info.Env(), dev, shape, DType::F32, &out);
  int64_t outer, inner;
  outer_inner(shape, axis, &outer, &inner);
  const int64_t ld = shape[axis] * inner;
  int64_t at = 0;
  for (Tensor* t : ts) {
    const int64_t cols = t->shape()[axis] * inner;
    ANN_DISPATCH(dev, op, copy2d, t->f32(), cols, y->f32() + at, ld, outer, cols);
    at += cols;
  }
  return out;
}

Napi::Value Split(const Napi::CallbackInfo& info) {
  const char* op = "split";
  Tensor* x = input(info, 0, op, "x", 1);
  const Device dev = x->device();
  const int64_t axis = axis_arg(info, 1, op, x, "x");
  std::vector<int64_t> sizes = int_list_arg(info, 2, op, "sizes");
  if (sizes.empty()) fail(op, "argument 'sizes' is empty");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 1) fail(op, "sizes " + shape_str(sizes) + " has an entry below 1");
    total += s;
  }
  const Shape& xs = x->shape();
  if (total != xs[axis])
    fail(op, "sizes " + shape_str(sizes) + " add up to " + std::to_string(total) + " but " +
                 x->describe("x") + " has " + std::to_string(xs[axis]) + " along axis " +
                 std::to_string(axis));
  int64_t outer, inner;
  outer_inner(xs, axis, &outer, &inner);
  const int64_t ld = xs[axis] * inner;
  Napi::Array result = Napi::Array::New(info.Env(), sizes.size());
  int64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Shape s = xs;
    s[axis] = sizes[i];
    Napi::Object out;
    Tensor* y = Tensor::Make(info.Env(), dev, s, DType::F32, &out);
    const int64_t cols = sizes[i] * inner;
    ANN_DISPATCH(dev, op, copy2d, x->f32() + at, ld, y->f32(), cols, outer, cols);
    at += cols;
    result.Set(static_cast<uint32_t>(i), out);
  }
  return result;
}

Napi::Value Narrow(const Napi::CallbackInfo& info) {
  const char* op = "narrow";
  Tensor* x = input(info, 0, op, "x", 1);
  const Device dev = x->device();
  const int64_t axis = axis_arg(info, 1, op, x, "x");
  const Shape& xs = x->shape();
  int64_t start = int_arg(info, 2, op, "start");
  const int64_t length = int_arg(info, 3, op, "length");
  if (start < 0) start += xs[axis];
  if (start < 0 || start >= xs[axis] || length < 1 || start + length > xs[axis])
    fail(op, "start " + std::to_string(int_arg(info, 2, op, "start")) + " and length " +
                 std::to_string(length) + " do not fit in " + x->describe("x") + " along axis " +
                 std::to_string(axis));
  Shape s = xs;
  s[axis] = length;
  int64_t outer, inner;
  outer_inner(xs, axis, &outer, &inner);
  Napi::Object out;
  Tensor* y = Tensor::Make(info.Env(), dev, s, DType::F32, &out);
  ANN_DISPATCH(dev, op, copy2d, x->f32() + start * inner, xs[axis] * inner, y->f32(), length * inner, outer,
               length * inner);
  return out;
}

// narrowBackward(dy, axis, start, size): zeros of dy's shape with `size` along axis, dy placed at start.
Napi::Value NarrowBackward(const Napi::CallbackInfo& info) {
  const char* op = "narrowBackward";
  Tensor* dy = input(info, 0, op, "dy", 1);
  const Device dev = dy->device();
  const int64_t axis = axis_arg(info, 1, op, dy, "dy");
  int64_t start = int_arg(info, 2, op, "start");
  const int64_t size = int_arg(info, 3, op, "size");
  const Shape& ds = dy->shape();
  if (start < 0) start += size;  // as narrow's negative start
  if (start < 0 || size < 1 || start + ds[axis] > size)
    fail(op, dy->describe("dy") + " does not fit at start " + std::to_string(int_arg(info, 2, op, "start")) +
                 " in size " + std::to_string(size) + " along axis " + std::to_string(axis));
  Shape s = ds;
  s[axis] = size;
  int64_t outer, inner;
  outer_inner(ds, axis, &outer, &inner);
  Napi::Object out;
  Tensor* dx = Tensor::Make(info.Env(), dev, s, DType::F32, &out);
  ANN_DISPATCH(dev, op, fill, dx->f32(), 0.f, dx->numel());
  ANN_DISPATCH(dev, op, copy2d, dy->f32(), ds[axis] * inner, dx->f32() + start * inner, size * inner, outer,
               ds[axis] * inner);
  return out;
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const char* op = "matmul";
  Tensor* a = input(info, 0, op, "a", 2);
  Tensor* b = input(info, 1, op, "b", 2);
  const Device dev = expect_same_device(op, {a, b});
  Napi::Object o = options_arg(info, 2, op, {"transA", "transB"});
  const bool ta = bool_option(o, "transA", false, op), tb = bool_option(o, "transB", false, op);
  const Shape &as = a->shape(), &bs = b->shape();
  const size_t ra = as.size(), rb = bs.size();
  const int64_t M = ta ? as[ra - 1] : as[ra - 2], Ka = ta ? as[ra - 2] : as[ra - 1];
  const int64_t Kb = tb ? bs[rb - 1] : bs[rb - 2], N = tb ? bs[rb - 2] : bs[rb - 1];
  const std::string flags = std::string(ta ? " (transA)" : "") + (tb ? " (transB)" : "");
  const bool a_shared = ra == 2, b_shared = rb == 2;
  if (!a_shared && !b_shared && (rb != ra || !std::equal(as.begin(), as.end() - 2, bs.begin())))
    fail(op, a->describe("a") + " and " + b->describe("b") +
                 ": batch dims must be equal, or one operand 2-D (shared across the batch)");
  if (Ka != Kb)
    fail(op, a->describe("a") + " and " + b->describe("b") + flags + " disagree on the inner dimension (" +
                 std::to_string(Ka) + " vs " + std::to_string(Kb) + ")");
  const Shape& batched = a_shared ? bs : as;
  Shape shape(batched.begin(), batched.end() - 2);
  const int64_t batch = numel(shape);
  shape.push_back(M);
  shape.push_back(N);
  Napi::Object out;
  Tensor* y = Tensor::Make(info.Env(), dev, shape, DType::F32, &out);
  ANN_DISPATCH(dev, op, matmul, a->f32(), b->f32(), y->f32(), batch, a_shared, b_shared, M, N, Ka, ta, tb);
  return out;
}

}  // namespace

ANN_REGISTER_BINDINGS(elementwise_layout) {
  def(env, exports, "permute", Permute);
  def(env, exports, "cat", Cat);
  def(env, exports, "split", Split);
  def(env, exports, "narrow", Narrow);
  def(env, exports, "narrowBackward", NarrowBackward);
  def(env, exports, "matmul", Matmul);
}

}  // namespace ann::napi
