// The elementwise family on the GPU (the twin of cpu/elementwise*.cpp): pointwise ops, broadcasting
// binary ops, sums over axes, layout copies, batched products (cuBLAS) and channel dropout.
// Pointwise results are bit-identical to the CPU's: the same single roundings in the same order,
// with products and sums kept apart (__fmul_rn/__fadd_rn) where nvcc would otherwise fuse them.
#include <algorithm>
#include <vector>

#include "ann/broadcast_layout.h"
#include "ann/elementwise.h"
#include "ann/permute_plan.h"
#include "ann/reduce_plan.h"
#include "blas.h"
#include "reduce.cuh"
#include "runtime.h"

namespace ann::cuda {
namespace {

constexpr int kThreads = 256;

using Layout = BroadcastLayout;  // ann/broadcast_layout.h

#define ANN_GRID_STRIDE(i, n)                                               \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); \
       i += int64_t{gridDim.x} * blockDim.x)

__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  ANN_GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = v <= 0.f ? 0.f : v;  // NaN passes, as torch.relu
  }
}

__global__ void relu_backward_kernel(const float* __restrict__ dy, const float* __restrict__ y,
                                     float* __restrict__ dx, int64_t n) {
  ANN_GRID_STRIDE(i, n) { dx[i] = y[i] <= 0.f ? 0.f : dy[i]; }
}

__global__ void affine_kernel(const float* __restrict__ x, float alpha, float beta, float* __restrict__ y,
                              int64_t n) {
  ANN_GRID_STRIDE(i, n) { y[i] = __fadd_rn(__fmul_rn(alpha, x[i]), beta); }
}

__global__ void axpy_kernel(float* dst, const float* src, float alpha, int64_t n) {
  if (alpha == 1.f) {
    ANN_GRID_STRIDE(i, n) { dst[i] += src[i]; }
  } else {
    ANN_GRID_STRIDE(i, n) { dst[i] = __fadd_rn(dst[i], __fmul_rn(alpha, src[i])); }
  }
}

__global__ void fill_kernel(float* __restrict__ dst, float value, int64_t n) {
  ANN_GRID_STRIDE(i, n) { dst[i] = value; }
}

template <BinaryOp op>
__device__ __forceinline__ float apply(float u, float v) {
  if (op == BinaryOp::Add) return u + v;
  if (op == BinaryOp::Sub) return u - v;
  if (op == BinaryOp::Mul) return u * v;
  return u / v;
}

// y[i] = a[offset_a(i)] op b[offset_b(i)], the offsets from i's index over the merged dims.
template <BinaryOp op>
__global__ void binary_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                              Layout L, int64_t n) {
  ANN_GRID_STRIDE(i, n) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = L.rank - 1; d >= 0; --d) {
      const int64_t k = rem % L.size[d];
      rem /= L.size[d];
      oa += k * L.sa[d];
      ob += k * L.sb[d];
    }
    y[i] = apply<op>(a[oa], b[ob]);
  }
}

// The common cases without index arithmetic: same shapes, and a scalar on either side.
template <BinaryOp op>
__global__ void binary_flat_kernel(const float* __restrict__ a, int64_t sa, const float* __restrict__ b,
                                   int64_t sb, float* __restrict__ y, int64_t n) {
  ANN_GRID_STRIDE(i, n) { y[i] = apply<op>(a[i * sa], b[i * sb]); }
}

__global__ void broadcast_kernel(const float* __restrict__ x, float* __restrict__ y, Layout L, int64_t n) {
  ANN_GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    for (int d = L.rank - 1; d >= 0; --d) {
      off += (rem % L.size[d]) * L.sa[d];
      rem /= L.size[d];
    }
    y[i] = x[off];
  }
}

template <BinaryOp op>
void run_binary(const float* a, const float* b, float* y, const Layout& L, int64_t n) {
  if (L.rank == 1) {
    ANN_LAUNCH("binary", binary_flat_kernel<op>, stride_blocks(n, kThreads), kThreads, 0, a, L.sa[0], b,
               L.sb[0], y, n);
    return;
  }
  ANN_LAUNCH("binary", binary_kernel<op>, stride_blocks(n, kThreads), kThreads, 0, a, b, y, L, n);
}

// --- reduce_sum ---

using Dims = StridedDims;  // the index spaces of ann/reduce_plan.h

__device__ __forceinline__ int64_t offset_of(const Dims& d, int64_t i) {
  int64_t off = 0;
  for (int k = d.n - 1; k >= 0; --k) {
    off += (i % d.size[k]) * d.stride[k];
    i /= d.size[k];
  }
  return off;
}

// Innermost run reduced: output o (blockIdx.x) sums `work` = n_red * inner values, split into
// gridDim.y parts of `per` values; a part's sum is in a fixed order (block_sum over a fixed stride).
__global__ void sum_inner_kernel(const float* __restrict__ x, Dims kept, Dims red, int64_t inner,
                                 int64_t work, int64_t per, double scale, float* __restrict__ out,
                                 double* __restrict__ parts) {
  __shared__ double scratch[kThreads / 32];
  const int64_t o = blockIdx.x, base = offset_of(kept, o);
  const int64_t lo = blockIdx.y * per, hi = min(work, lo + per);
  double s = 0;
  for (int64_t w = lo + threadIdx.x; w < hi; w += blockDim.x)
    s += x[base + offset_of(red, w / inner) + w % inner];
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) {
    if (parts)
      parts[o * gridDim.y + blockIdx.y] = s;
    else
      out[o] = static_cast<float>(s * scale);
  }
}

// The same when each output sums only a few values: one thread an output, in order.
__global__ void sum_inner_small_kernel(const float* __restrict__ x, Dims kept, Dims red, int64_t inner,
                                       int64_t work, int64_t n_kept, double scale, float* __restrict__ out) {
  ANN_GRID_STRIDE(o, n_kept) {
    const int64_t base = offset_of(kept, o);
    double s = 0;
    for (int64_t w = 0; w < work; ++w) s += x[base + offset_of(red, w / inner) + w % inner];
    out[o] = static_cast<float>(s * scale);
  }
}

// Innermost run kept: out[j], j = o * K + k, sums n_red rows; part p (blockIdx.y) takes rows
// [p*per, (p+1)*per). Neighbouring threads read neighbouring k.
__global__ void sum_rows_kernel(const float* __restrict__ x, Dims kept, Dims red, int64_t K, int64_t width,
                                int64_t n_red, int64_t per, double scale, float* __restrict__ out,
                                double* __restrict__ parts) {
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (j >= width) return;
  const int64_t base = offset_of(kept, j / K) + j % K;
  const int64_t r0 = blockIdx.y * per, r1 = min(n_red, r0 + per);
  double s = 0;
  for (int64_t r = r0; r < r1; ++r) s += x[base + offset_of(red, r)];
  if (parts)
    parts[blockIdx.y * width + j] = s;
  else
    out[j] = static_cast<float>(s * scale);
}

// out[j] = scale * sum over p of parts[j * stride_j + p * stride_p], p in order.
__global__ void sum_parts_kernel(const double* __restrict__ parts, int64_t width, int nparts,
                                 int64_t stride_j, int64_t stride_p, double scale, float* __restrict__ out) {
  ANN_GRID_STRIDE(j, width) {
    double s = 0;
    for (int p = 0; p < nparts; ++p) s += parts[j * stride_j + p * stride_p];
    out[j] = static_cast<float>(s * scale);
  }
}

// --- permute ---
using PermuteLayout = PermutePlan;  // ann/permute_plan.h

__global__ void permute_kernel(const float* __restrict__ x, float* __restrict__ y, PermuteLayout P,
                               int64_t n) {
  ANN_GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    for (int d = P.rank - 1; d >= 0; --d) {
      off += (rem % P.size[d]) * P.in_stride[d];
      rem /= P.size[d];
    }
    y[i] = x[off];
  }
}

// A batch of 2-D transposes: y[ooff + j * ldd + l] = x[ioff + l * lds + j] through a 32x33 shared
// tile, so both the reads (along j) and the writes (along l) are coalesced. blockIdx.z is the batch
// index over the remaining dims (B, outermost first).
struct TransposeLayout {
  int64_t nj, nl, lds, ldd;
  int nb;
  int64_t size[kMaxRank], in_stride[kMaxRank], out_stride[kMaxRank];
};

__global__ void transpose_kernel(const float* __restrict__ x, float* __restrict__ y, TransposeLayout T) {
  __shared__ float tile[32][33];
  int64_t rem = blockIdx.z, ioff = 0, ooff = 0;
  for (int d = T.nb - 1; d >= 0; --d) {
    const int64_t k = rem % T.size[d];
    rem /= T.size[d];
    ioff += k * T.in_stride[d];
    ooff += k * T.out_stride[d];
  }
  const int64_t j0 = int64_t{blockIdx.x} * 32, l0 = int64_t{blockIdx.y} * 32;
  for (int r = threadIdx.y; r < 32; r += blockDim.y) {
    const int64_t l = l0 + r, j = j0 + threadIdx.x;
    if (l < T.nl && j < T.nj) tile[r][threadIdx.x] = x[ioff + l * T.lds + j];
  }
  __syncthreads();
  for (int r = threadIdx.y; r < 32; r += blockDim.y) {
    const int64_t j = j0 + r, l = l0 + threadIdx.x;
    if (l < T.nl && j < T.nj) y[ooff + j * T.ldd + l] = tile[threadIdx.x][r];
  }
}

__global__ void channel_scale_kernel(const float* __restrict__ x, const float* __restrict__ scale,
                                     int64_t inner, float* __restrict__ y, int64_t n) {
  ANN_GRID_STRIDE(i, n) { y[i] = x[i] * scale[i / inner]; }
}

}  // namespace

void relu(const float* x, float* y, int64_t n) {
  if (n > 0) ANN_LAUNCH("relu", relu_kernel, stride_blocks(n, kThreads), kThreads, 0, x, y, n);
}

void relu_backward(const float* dy, const float* y, float* dx, int64_t n) {
  if (n > 0)
    ANN_LAUNCH("relu_backward", relu_backward_kernel, stride_blocks(n, kThreads), kThreads, 0, dy, y, dx, n);
}

void affine(const float* x, float alpha, float beta, float* y, int64_t n) {
  if (n > 0)
    ANN_LAUNCH("affine", affine_kernel, stride_blocks(n, kThreads), kThreads, 0, x, alpha, beta, y, n);
}

void axpy_inplace(float* dst, const float* src, float alpha, int64_t n) {
  if (n > 0)
    ANN_LAUNCH("axpy_inplace", axpy_kernel, stride_blocks(n, kThreads), kThreads, 0, dst, src, alpha, n);
}

void copy(const float* src, float* dst, int64_t n) {
  if (n > 0 && src != dst) copy_on_device(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void fill(float* dst, float value, int64_t n) {
  if (n > 0) ANN_LAUNCH("fill", fill_kernel, stride_blocks(n, kThreads), kThreads, 0, dst, value, n);
}

void binary(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
            float* y) {
  Shape out;
  if (!broadcast_shapes(a_shape, b_shape, &out))
    throw Error("binary: shapes " + shape_str(a_shape) + " and " + shape_str(b_shape) + " do not broadcast");
  const int64_t n = numel(out);
  if (n == 0) return;
  const Layout L = broadcast_layout(a_shape, b_shape, out);
  switch (op) {
    case BinaryOp::Add:
      return run_binary<BinaryOp::Add>(a, b, y, L, n);
    case BinaryOp::Sub:
      return run_binary<BinaryOp::Sub>(a, b, y, L, n);
    case BinaryOp::Mul:
      return run_binary<BinaryOp::Mul>(a, b, y, L, n);
    case BinaryOp::Div:
      return run_binary<BinaryOp::Div>(a, b, y, L, n);
  }
}

void broadcast_to(const float* x, const Shape& x_shape, const Shape& shape, float* y) {
  const int64_t n = numel(shape);
  if (n == 0) return;
  const Layout L = broadcast_layout(x_shape, Shape{1}, shape);
  ANN_LAUNCH("broadcast_to", broadcast_kernel, stride_blocks(n, kThreads), kThreads, 0, x, y, L, n);
}

void reduce_sum(const float* x, const Shape& shape, const std::vector<bool>& reduce, double scale,
                float* out) {
  const ReducePlan plan = reduce_plan(shape, reduce);
  const Dims &kept = plan.kept, &red = plan.red;
  const int64_t inner = plan.inner, n_kept = plan.n_kept, n_red = plan.n_red;
  const bool inner_reduced = plan.inner_reduced;
  if (n_kept == 0) return;
  // Enough parts that a few outputs over many values still fill the GPU; 8192 values a part at least.
  constexpr int64_t kPerPart = 8192, kMaxParts = 1024;
  if (inner_reduced) {
    const int64_t work = n_red * inner;
    if (work <= 64) {
      ANN_LAUNCH("reduce_sum", sum_inner_small_kernel, stride_blocks(n_kept, kThreads), kThreads, 0, x, kept,
                 red, inner, work, n_kept, scale, out);
      return;
    }
    if (n_kept > 0x7fffffff) throw Error("reduce_sum: " + std::to_string(n_kept) + " outputs are too many");
    int64_t parts = std::min<int64_t>(kMaxParts, std::max<int64_t>(1, work / kPerPart));
    parts = std::max<int64_t>(1, std::min(parts, 2048 / n_kept));
    const int64_t per = (work + parts - 1) / parts;
    Buffer<double> partial(parts > 1 ? static_cast<size_t>(parts * n_kept) : 0);
    ANN_LAUNCH("reduce_sum", sum_inner_kernel,
               dim3(static_cast<unsigned>(n_kept), static_cast<unsigned>(parts)), kThreads, 0, x, kept, red,
               inner, work, per, scale, out, parts > 1 ? partial.data() : nullptr);
    if (parts > 1)
      ANN_LAUNCH("reduce_sum", sum_parts_kernel, stride_blocks(n_kept, kThreads), kThreads, 0, partial.data(),
                 n_kept, static_cast<int>(parts), parts, int64_t{1}, scale, out);
    return;
  }
  const int64_t K = inner, width = n_kept * K;
  int64_t parts = std::min<int64_t>(kMaxParts, std::max<int64_t>(1, n_red * K / kPerPart));
  parts = std::max<int64_t>(1, std::min(parts, std::max<int64_t>(1, 65536 / width)));
  const int64_t per = (n_red + parts - 1) / parts;
  Buffer<double> partial(parts > 1 ? static_cast<size_t>(parts * width) : 0);
  const dim3 grid(blocks_for(width, kThreads), static_cast<unsigned>(parts));
  ANN_LAUNCH("reduce_sum", sum_rows_kernel, grid, kThreads, 0, x, kept, red, K, width, n_red, per, scale, out,
             parts > 1 ? partial.data() : nullptr);
  if (parts > 1)
    ANN_LAUNCH("reduce_sum", sum_parts_kernel, stride_blocks(width, kThreads), kThreads, 0, partial.data(),
               width, static_cast<int>(parts), int64_t{1}, width, scale, out);
}

void permute(const float* x, const Shape& shape, const std::vector<int>& dims, float* y) {
  const PermuteLayout P = permute_plan(shape, dims);
  const int m = P.rank;
  const int64_t total = P.total;
  if (total == 0) return;
  if (m <= 1) return copy(x, y, total);
  if (P.in_stride[m - 1] != 1) {
    // The innermost input dim moves: transposes between it (output dim J) and the last output dim.
    const int64_t* out_stride = P.out_stride;
    int J = 0;
    while (P.in_stride[J] != 1) ++J;
    TransposeLayout T{};
    T.nj = P.size[J];
    T.nl = P.size[m - 1];
    T.lds = P.in_stride[m - 1];
    T.ldd = out_stride[J];
    int64_t batch = 1;
    for (int i = 0; i < m - 1; ++i) {
      if (i == J) continue;
      T.size[T.nb] = P.size[i];
      T.in_stride[T.nb] = P.in_stride[i];
      T.out_stride[T.nb] = out_stride[i];
      batch *= P.size[i];
      ++T.nb;
    }
    const int64_t tj = (T.nj + 31) / 32, tl = (T.nl + 31) / 32;
    if (batch <= 65535 && tl <= 65535 && tj <= 0x7fffffff) {
      ANN_LAUNCH("permute", transpose_kernel,
                 dim3(static_cast<unsigned>(tj), static_cast<unsigned>(tl), static_cast<unsigned>(batch)),
                 dim3(32, 8), 0, x, y, T);
      return;
    }
  }
  ANN_LAUNCH("permute", permute_kernel, stride_blocks(total, kThreads), kThreads, 0, x, y, P, total);
}

void copy2d(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  ANN_CUDA_CHECK("copy2d", cudaMemcpy2DAsync(dst, static_cast<size_t>(dst_ld) * sizeof(float), src,
                                             static_cast<size_t>(src_ld) * sizeof(float),
                                             static_cast<size_t>(cols) * sizeof(float),
                                             static_cast<size_t>(rows), cudaMemcpyDeviceToDevice, stream()));
}

void matmul(const float* a, const float* b, float* y, int64_t batch, bool a_shared, bool b_shared, int64_t M,
            int64_t N, int64_t K, bool trans_a, bool trans_b) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  if (b_shared && !trans_a && !a_shared) {
    // [batch*M, K] @ [K, N]: the batch rows stack into one product.
    sgemm(false, trans_b, batch * M, N, K, 1.f, a, lda, b, ldb, 0.f, y, N);
    return;
  }
  sgemm_strided_batched(trans_a, trans_b, M, N, K, 1.f, a, lda, a_shared ? 0 : M * K, b, ldb,
                        b_shared ? 0 : K * N, 0.f, y, N, M * N, batch);
}

void dropout_mask(uint64_t seed, double p, int64_t channels, float* mask) {
  // The same counter-based numbers as the CPU: drawn there (channels are few) and uploaded.
  if (channels <= 0) return;
  std::vector<float> host(static_cast<size_t>(channels));
  ::ann::dropout_mask(seed, p, channels, host.data());
  copy_to_device(mask, host.data(), host.size() * sizeof(float));
}

void channel_scale(const float* x, const float* scale, int64_t channels, int64_t inner, float* y) {
  const int64_t n = channels * inner;
  if (n > 0)
    ANN_LAUNCH("channel_scale", channel_scale_kernel, stride_blocks(n, kThreads), kThreads, 0, x, scale,
               inner, y, n);
}

}  // namespace ann::cuda
