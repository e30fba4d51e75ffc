// Times one Table 1 case in this process and reads its memory high-water marks. Meant to run in a
// fresh child process per case (blocks-child.ts): the native allocator's peakBytes and the OS's
// max RSS are high-water marks since the process started, so a case that follows a larger one
// would read the larger one's peak.
import { tidy } from '../../autograd/scope.js';
import { noGrad } from '../../autograd/tape.js';
import { AFNB, FusionNonLocal } from '../../nn/blocks/fusion.js';
import { APNB, NonLocal } from '../../nn/blocks/self.js';
import { randn, type Tensor } from '../../tensor.js';
import { isSelf, type BlockCase } from './blocks-cases.js';
import { benchMemory, medianTime } from './timing.js';

export interface CaseMeasurement {
  /** Median wall time of the timed runs (after one warm-up run). */
  ms: number;
  runs: number;
  /** The bench device's peakBytes (benchMemory) after the runs minus allocatedBytes before the first run. */
  peakBytes: number;
  /**
   * False when the runs never raised peakBytes above the mark that setup left: then peakBytes is
   * an upper bound, not the case's own peak.
   */
  peakExact: boolean;
  /** Max RSS after the runs minus RSS before the first run (includes BLAS buffers, the JS heap). */
  rssBytes: number;
  /** Bytes held by inputs and parameters (and the gradient seed) before the first run. */
  baseBytes: number;
}

export interface MeasureOptions {
  /** Keep timing until this much time has passed (at least minRuns runs). */
  budgetMs?: number;
  minRuns?: number;
  maxRuns?: number;
}

function makeBlock(c: BlockCase) {
  const common = { outChannels: c.outChannels, keyChannels: c.keyChannels, valueChannels: c.valueChannels, seed: 1 };
  switch (c.kind) {
    case 'NB':
      return new NonLocal({ inChannels: c.lowChannels, ...common });
    case 'APNB':
      return new APNB({ inChannels: c.lowChannels, ...common });
    case 'FNB':
      return new FusionNonLocal({ lowChannels: c.lowChannels, highChannels: c.highChannels, ...common });
    case 'AFNB':
      return new AFNB({ lowChannels: c.lowChannels, highChannels: c.highChannels, ...common });
  }
}

export function measureCase(c: BlockCase, o: MeasureOptions = {}): CaseMeasurement {
  const { budgetMs = 2000, minRuns = 3, maxRuns = 20 } = o;
  const train = c.mode === 'fwd+bwd';
  const block = makeBlock(c);
  // Dropout is irrelevant to timing: evaluation for forward, training (batch-statistics BN,
  // dropout on) for forward+backward, as the block runs in each.
  block.train(train);
  const shape = (ch: number) => [1, ch, c.height, c.width];
  const x = randn(shape(c.lowChannels), { seed: 2, requiresGrad: train });
  const high = isSelf(c.kind) ? null : randn(shape(c.highChannels), { seed: 3, requiresGrad: train });
  const dy = train ? randn(shape(c.outChannels), { seed: 4 }) : null;
  const inputs = [x, high].filter((t): t is Tensor => t !== null);
  const forward = () => (high ? (block as AFNB).call(x, high) : (block as APNB).call(x));
  const run = train
    ? () => {
        tidy(() => forward().backward(dy!));
        block.zeroGrad();
        for (const t of inputs) {
          t.grad?.dispose();
          t.grad = null;
        }
      }
    : () => noGrad(() => tidy(() => void forward()));

  try {
    const before = benchMemory();
    const rssBefore = process.memoryUsage().rss;
    run();
    const { ms, runs } = medianTime(run, { minRuns, maxRuns, budgetMs });
    const after = benchMemory();
    // maxRSS is in KiB.
    const rssPeak = process.resourceUsage().maxRSS * 1024;
    return {
      ms,
      runs,
      peakBytes: after.peakBytes - before.allocatedBytes,
      peakExact: after.peakBytes > before.peakBytes,
      rssBytes: Math.max(0, rssPeak - rssBefore),
      baseBytes: before.allocatedBytes,
    };
  } finally {
    for (const t of [...inputs, dy]) t?.dispose();
    block.dispose();
  }
}
