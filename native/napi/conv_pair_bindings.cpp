// conv1x1Pair: argument checks around conv1x1_pair_forward (native/cpu/conv_pair.cpp).
#include <climits>
#include <string>

#include "ann/conv.h"
#include "args.h"
#include "dispatch.h"
#include "registry.h"

namespace ann::napi {
namespace {

// weight must be [Cout, channels, 1, 1] for input `name`.
void expect_pointwise(const char* op, const JsTensor* w, const char* wname, const JsTensor* x,
                      const char* xname, int64_t cout) {
  const Shape& ws = w->shape();
  if (ws[0] != cout || ws[1] != x->shape()[1] || ws[2] != 1 || ws[3] != 1)
    fail(op, w->describe(wname) + " must be [" + std::to_string(cout) + "," + std::to_string(x->shape()[1]) +
                 ",1,1] for " + x->describe(xname));
}

// conv1x1Pair(a [B,Ca,H,W], weightA [Cout,Ca,1,1], b [B,Cb,H,W], weightB [Cout,Cb,1,1], bias [Cout] | null)
Napi::Value Conv1x1Pair(const Napi::CallbackInfo& info) {
  const char* op = "conv1x1Pair";
  JsTensor* a = tensor_arg(info, 0, op, "a", DType::F32, 4);
  JsTensor* wa = tensor_arg(info, 1, op, "weightA", DType::F32, 4);
  JsTensor* b = tensor_arg(info, 2, op, "b", DType::F32, 4);
  JsTensor* wb = tensor_arg(info, 3, op, "weightB", DType::F32, 4);
  JsTensor* bias = optional_tensor_arg(info, 4, op, "bias", DType::F32, 1);
  const Device dev = expect_same_device(op, {a, wa, b, wb, bias});
  const Shape &as = a->shape(), &bs = b->shape();
  if (as[0] != bs[0] || as[2] != bs[2] || as[3] != bs[3])
    fail(op, a->describe("a") + " and " + b->describe("b") + " must agree in batch, height and width");
  const int64_t cout = wa->shape()[0];
  expect_pointwise(op, wa, "weightA", a, "a", cout);
  expect_pointwise(op, wb, "weightB", b, "b", cout);
  if (bias && bias->shape()[0] != cout)
    fail(op, bias->describe("bias") + " must have " + std::to_string(cout) + " entries for " +
                 wa->describe("weightA"));
  const int64_t HW = as[2] * as[3];
  if (HW > INT_MAX || static_cast<double>(as[0]) * cout * HW > 4.0e9)
    fail(op, "output [" + std::to_string(as[0]) + "," + std::to_string(cout) + "," + std::to_string(as[2]) +
                 "," + std::to_string(as[3]) + "] is too large");
  Napi::Object out;
  JsTensor* y = JsTensor::Make(info.Env(), dev, {as[0], cout, as[2], as[3]}, DType::F32, &out);
  ANN_DISPATCH(dev, op, conv1x1_pair_forward, as[0], HW, cout, as[1], bs[1], a->f32(), wa->f32(), b->f32(),
               wb->f32(), f32_or_null(bias), y->f32());
  return out;
}

}  // namespace

ANN_REGISTER_BINDINGS(conv_pair) { def(env, exports, "conv1x1Pair", Conv1x1Pair); }

}  // namespace ann::napi
