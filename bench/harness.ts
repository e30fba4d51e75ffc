// What a kernel benchmark file (bench/kernels/<family>.ts) exports, and how cases are timed.
import { medianTime } from '../lib/bench/timing.js';
import { native } from '../lib/native/index.js';

export interface BenchCase {
  /** Unique; bench/torch/<family>.py reports PyTorch's time under the same name. */
  name: string;
  /** Floating-point operations of one run, when meaningful (for GFLOP/s). */
  flops?: number;
  /** Prepares inputs; returns the function to time and a cleanup. */
  make(): { run: () => void; dispose: () => void };
}

export interface Timing {
  name: string;
  ms: number;
  gflops?: number;
}

/** Median wall time of `run` over enough repetitions to fill about `budgetMs`. */
export function timeCase(c: BenchCase, budgetMs = 1500): Timing {
  const { run, dispose } = c.make();
  try {
    run();
    run();
    const { ms } = medianTime(run, { minRuns: 5, maxRuns: 200, budgetMs });
    return { name: c.name, ms, gflops: c.flops ? c.flops / (ms * 1e6) : undefined };
  } finally {
    dispose();
  }
}

/** Seeded uniform(-1, 1) float32 data. */
export function randomTensor(shape: number[], seed = 1, scale = 1) {
  let s = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return native.fromArray(data, shape);
}
