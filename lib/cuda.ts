// The CUDA device as a user reaches it (PyTorch's torch.cuda and torch.backends.cuda.matmul.allow_tf32):
// whether it can be used and why not, the TF32 switch, and waiting for queued kernels (for timing).
import { native } from './native/index.js';

/** Whether CUDA tensors can be made in this process (a CUDA build, a driver and a device). */
export function isAvailable(): boolean {
  return !native.info().cuda.startsWith('unavailable');
}

/** Why CUDA cannot be used ("this build has no CUDA backend", "no NVIDIA driver, ..."), or null when it can. */
export function unavailableReason(): string | null {
  const s = native.info().cuda;
  if (!s.startsWith('unavailable')) return null;
  return /^unavailable \((.*)\)$/.exec(s)?.[1] ?? s;
}

/**
 * TF32 tensor-core math for the CUDA GEMMs (cuBLAS's CUBLAS_TF32_TENSOR_OP_MATH: 1x1 and im2col
 * convolutions, batched products); off by default, ANN_SEG_TF32=1 turns it on at start-up. Inputs are
 * rounded to 10 mantissa bits, products accumulate in float32: expect relative errors near 1e-3
 * (2^-11 per input, growing with the square root of the inner dimension) instead of float32's
 * near 1e-6, as PyTorch's allow_tf32. The fused attention and pooling kernels stay in float32.
 * Throws where CUDA is unavailable.
 */
export function setTF32(on: boolean): void {
  native.setTF32(on);
}

/** Whether TF32 math is on (false where CUDA is unavailable). */
export function tf32(): boolean {
  return native.tf32();
}

/** Waits until the device has run every queued kernel (a no-op without CUDA); CUDA errors surface here. */
export function synchronize(): void {
  native.synchronize();
}
