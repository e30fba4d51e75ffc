// The one timing rule of the benchmarks: the median wall time of repeated runs, taken after the
// caller's warm-up, for at least minRuns and while under budgetMs (at most maxRuns). Each run ends
// when the CUDA device has finished its kernels (native.synchronize; a no-op without CUDA), so a
// GPU run is timed as PyTorch's side times it (torch.cuda.synchronize after each run).
import { defaultDevice } from '../../device.js';
import { native, type NativeDeviceMemory } from '../../native/index.js';

export interface MedianOptions {
  minRuns: number;
  maxRuns: number;
  budgetMs: number;
}

export function medianTime(run: () => void, { minRuns, maxRuns, budgetMs }: MedianOptions): { ms: number; runs: number } {
  const samples: number[] = [];
  // The warm-up's queued work is not the first sample's.
  native.synchronize();
  const start = performance.now();
  while (samples.length < minRuns || (performance.now() - start < budgetMs && samples.length < maxRuns)) {
    const t0 = performance.now();
    run();
    native.synchronize();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)], runs: samples.length };
}

/** The allocator counters of the device the benchmark runs on (the default device: bench --device sets it). */
export function benchMemory(): NativeDeviceMemory {
  const m = native.memory();
  if (defaultDevice() !== 'cuda') return m;
  if (!m.cuda) throw new Error('bench: CUDA memory counters are missing (is CUDA available?)');
  return m.cuda;
}
