// Native elementwise kernels (native/cpu/elementwise*.cpp, bound in native/napi/elementwise*_bindings.cpp):
// the small ops autograd composes into everything that is not a fused kernel.
//
// Common contract: inputs are live, non-empty, contiguous float32 CPU tensors of rank <= 8; every
// function returns NEW tensors (the caller owns and disposes them) unless it says "in place".
// Shapes follow PyTorch; axes may be negative. Bad arguments throw an Error whose message starts
// with the function's name and shows the shapes involved.
import type { NativeTensor } from '../types.js';

export interface ReduceOptions {
  /** Axes to reduce (negative allowed, no repeats, non-empty); all axes when absent. */
  axes?: number[];
  /** Keep reduced axes as size 1 (default false). */
  keepdim?: boolean;
}

export interface MatmulOptions {
  /** a is stored as [..., K, M] and used transposed (default false). */
  transA?: boolean;
  /** b is stored as [..., N, K] (or [N, K]) and used transposed (default false). */
  transB?: boolean;
}

export interface Dropout2dOptions {
  /** Probability of zeroing a channel, in [0, 1]; p = 1 zeroes everything (x * 0, so NaN stays NaN). */
  p: number;
  /** Non-negative integer; required when training. Same seed and shape -> same mask, on any thread count. */
  seed?: number;
  /** When false the op is the identity (y is a copy of x, mask all ones). Default true. */
  training?: boolean;
}

export interface ElementwiseKernels {
  /** y = max(x, 0); NaN propagates as in torch.relu. */
  relu(x: NativeTensor): NativeTensor;
  /** dx = dy where y > 0 else 0, given relu's output y (torch's threshold_backward; NaN in y passes dy). */
  reluBackward(dy: NativeTensor, y: NativeTensor): NativeTensor;

  /**
   * y = a + b with numpy/PyTorch broadcasting (shapes right-aligned; each dim equal or 1).
   * Backward: da = sumTo(dy, a.shape), db = sumTo(dy, b.shape).
   */
  add(a: NativeTensor, b: NativeTensor): NativeTensor;
  /** y = a - b, broadcasting. Backward: da = sumTo(dy, a.shape), db = sumTo(neg(dy), b.shape). */
  sub(a: NativeTensor, b: NativeTensor): NativeTensor;
  /** y = a * b, broadcasting. Backward: da = sumTo(mul(dy, b), a.shape), db = sumTo(mul(dy, a), b.shape). */
  mul(a: NativeTensor, b: NativeTensor): NativeTensor;
  /**
   * y = a / b, broadcasting (IEEE: x/0 = +-Inf, 0/0 = NaN).
   * Backward: da = sumTo(div(dy, b), a.shape), db = sumTo(neg(div(mul(dy, y), b)), b.shape).
   */
  div(a: NativeTensor, b: NativeTensor): NativeTensor;
  /**
   * Sums x down to `shape`, which must broadcast to x.shape: the gradient of an operand that was
   * broadcast in a binary op. Leading axes x has beyond shape are summed away.
   */
  sumTo(x: NativeTensor, shape: number[]): NativeTensor;
  /** Copies x broadcast to `shape` (x.shape must broadcast to exactly shape). Backward: sumTo. */
  broadcastTo(x: NativeTensor, shape: number[]): NativeTensor;

  /** y = alpha * x. */
  scale(x: NativeTensor, alpha: number): NativeTensor;
  /** y = alpha * x + beta. Backward: dx = scale(dy, alpha). */
  affine(x: NativeTensor, alpha: number, beta: number): NativeTensor;
  /** y = -x. */
  neg(x: NativeTensor): NativeTensor;
  /** In place: dst += alpha * src (gradient accumulation); same shapes. */
  addInPlace(dst: NativeTensor, src: NativeTensor, alpha?: number): void;
  /** In place: dst = src; same shapes. */
  copyInto(dst: NativeTensor, src: NativeTensor): void;

  /**
   * Sum over axes (all when absent). keepdim=false drops them (a full sum gives shape []).
   * Backward: broadcastTo(dy.reshape(keepdim shape), x.shape). Accumulates in double.
   */
  sum(x: NativeTensor, options?: ReduceOptions): NativeTensor;
  /** Mean over axes (all when absent). Backward: broadcastTo(scale(dy, 1/count).reshape(keepdim shape), x.shape). */
  mean(x: NativeTensor, options?: ReduceOptions): NativeTensor;

  /**
   * y = x.permute(dims).contiguous() for any rank <= 8 (negative dims allowed).
   * Backward: permute(dy, inverse) where inverse[dims[i]] = i.
   */
  permute(x: NativeTensor, dims: number[]): NativeTensor;
  /** Concatenates along axis; the tensors agree on every other dim. Backward: split(dy, axis, sizes). */
  cat(tensors: NativeTensor[], axis: number): NativeTensor;
  /** Splits x along axis into pieces of the given sizes (each >= 1, summing to x.shape[axis]). */
  split(x: NativeTensor, axis: number, sizes: number[]): NativeTensor[];
  /**
   * The slice [start, start + length) of x along axis, as a new tensor (torch's narrow, copied);
   * start may be negative (counted from the end). Backward: narrowBackward(dy, axis, start, x.shape[axis]).
   */
  narrow(x: NativeTensor, axis: number, start: number, length: number): NativeTensor;
  /** Zeros with `size` along axis and dy's other dims, with dy placed at start (negative: from the end). */
  narrowBackward(dy: NativeTensor, axis: number, start: number, size: number): NativeTensor;

  /**
   * y[..., M, N] = op(a) @ op(b) on BLAS, where a is [..., M, K] ([..., K, M] with transA) and b is
   * [..., K, N] ([..., N, K] with transB). The batch dims are equal, or one operand is 2-D and shared
   * across the other's batch. Backward (ta/tb the flags used):
   *   d op(a) = matmul(dy, b, { transB: !tb })          -> da = ta ? its transpose : it
   *     directly for ta: da = matmul(b, dy, { transA: tb, transB: true })
   *   d op(b) = matmul(a, dy, { transA: !ta })          -> db = tb ? its transpose : it
   *     directly for tb: db = matmul(dy, a, { transA: true, transB: ta })
   * A shared (2-D) operand's gradient is the batched one summed over the batch axes; for a shared b
   * with ta = false, matmul(a.reshape([-1, K]), dy.reshape([-1, N]), { transA: true }) does it in one product.
   */
  matmul(a: NativeTensor, b: NativeTensor, options?: MatmulOptions): NativeTensor;

  /**
   * Channel dropout (torch.nn.Dropout2d) of x [B, C, ...]: mask [B, C] holds 0 (dropped, probability p)
   * or 1/(1-p), and y = x * mask broadcast over the trailing dims. Our own counter-based generator:
   * PyTorch's random stream is not reproduced, only its distribution and formula.
   */
  dropout2d(x: NativeTensor, options: Dropout2dOptions): { y: NativeTensor; mask: NativeTensor };
  /** dx = dy * mask broadcast over the trailing dims; mask [B, C] from dropout2d. */
  dropout2dBackward(dy: NativeTensor, mask: NativeTensor): NativeTensor;
}

export type { NativeTensor };
