// The one timing rule of the benchmarks: the median wall time of repeated runs, taken after the
// caller's warm-up, for at least minRuns and while under budgetMs (at most maxRuns).

export interface MedianOptions {
  minRuns: number;
  maxRuns: number;
  budgetMs: number;
}

export function medianTime(run: () => void, { minRuns, maxRuns, budgetMs }: MedianOptions): { ms: number; runs: number } {
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minRuns || (performance.now() - start < budgetMs && samples.length < maxRuns)) {
    const t0 = performance.now();
    run();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)], runs: samples.length };
}
