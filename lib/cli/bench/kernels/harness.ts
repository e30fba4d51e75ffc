// What a kernel benchmark file (./<family>.ts) exports, and how cases are timed.
import { medianTime, type MedianOptions } from '../timing.js';
import { nativeFromArray } from '../../../tensor.js';

export interface BenchCase {
  /** Unique; bench/torch/<family>.py reports PyTorch's time under the same name. */
  name: string;
  /** Floating-point operations of one run, when meaningful (for GFLOP/s). */
  flops?: number;
  /** Bytes one run must read and write at least, for memory-bound cases (for GB/s). */
  bytes?: number;
  /** Prepares inputs; returns the function to time and a cleanup. */
  make(): { run: () => void; dispose: () => void };
}

export interface Timing {
  name: string;
  ms: number;
  gflops?: number;
}

export interface CaseTiming extends MedianOptions {
  warmups: number;
}

const DEFAULT_TIMING: CaseTiming = { minRuns: 5, maxRuns: 200, budgetMs: 1500, warmups: 2 };

/** Median wall time of `run` after the warm-ups, over enough repetitions to fill about budgetMs. */
export function timeCase(c: BenchCase, timing: CaseTiming = DEFAULT_TIMING): Timing {
  const { run, dispose } = c.make();
  try {
    for (let i = 0; i < timing.warmups; i++) run();
    const { ms } = medianTime(run, timing);
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
  return nativeFromArray(data, shape);
}
