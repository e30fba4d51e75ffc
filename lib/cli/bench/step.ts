// `ann-seg bench step`: one training step of a preset's network (forward, the official loss,
// backward, SGD), timed as the median of repeated steps on one fixed random batch, with the
// native allocator's and the process's memory high-water marks. Runs in a child (step-child.ts).
import { tidy } from '../../autograd/scope.js';
import { annLoss } from '../../models/loss.js';
import { ANN } from '../../models/ann.js';
import type { ANNConfig } from '../../models/config.js';
import { SGD } from '../../optim/sgd.js';
import { cropSize, cropText } from '../../train/config.js';
import { randn, tensor } from '../../tensor.js';
import { runChild } from './child.js';
import { benchMemory, medianTime, type MedianOptions } from './timing.js';

export interface StepCase {
  preset: string;
  model: ANNConfig;
  batch: number;
  /** A side, or [height, width]. */
  crop: number | [number, number];
  lr: number;
  ohemMinKept: number;
}

export interface StepMeasurement {
  ms: number;
  runs: number;
  /** Native peakBytes over the steps minus what was allocated before the first (model, batch). */
  peakBytes: number;
  /** Max RSS after the steps minus the RSS before the first step. */
  rssBytes: number;
  parameters: number;
}

export function stepKey(c: StepCase): string {
  return `step ${c.preset} batch ${c.batch} crop ${cropText(c.crop)}`;
}

/** Labels in [0, numClasses) from a fixed LCG, a tenth of them ignored (255). */
function labels(c: StepCase): Int32Array {
  const k = c.model.numClasses ?? 19;
  const [h, w] = cropSize(c.crop);
  const t = new Int32Array(c.batch * h * w);
  let s = 12345;
  for (let i = 0; i < t.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    t[i] = (s >>> 8) % 10 === 0 ? 255 : (s >>> 12) % k;
  }
  return t;
}

/** The step this command times, on its fixed random batch; dispose() frees the network and batch. */
export function stepRunner(c: StepCase) {
  const model = ANN({ ...c.model, seed: 1 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: c.lr, momentum: 0.9, weightDecay: 5e-4 });
  const [h, w] = cropSize(c.crop);
  const x = randn([c.batch, 3, h, w], { seed: 2 });
  const y = tensor(labels(c), [c.batch, h, w]);
  const step = () => {
    const loss = tidy(() => annLoss(model.call(x), y, { minKept: c.ohemMinKept }));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    loss.dispose();
  };
  const dispose = () => {
    x.dispose();
    y.dispose();
    model.dispose();
  };
  return { model, step, dispose };
}

export function measureStep(c: StepCase, timing: MedianOptions): StepMeasurement {
  const { model, step, dispose } = stepRunner(c);
  try {
    const before = benchMemory();
    const rssBefore = process.memoryUsage().rss;
    step();
    const { ms, runs } = medianTime(step, timing);
    const after = benchMemory();
    return {
      ms,
      runs,
      peakBytes: after.peakBytes - before.allocatedBytes,
      rssBytes: Math.max(0, process.resourceUsage().maxRSS * 1024 - rssBefore),
      parameters: model.parameters().reduce((n, p) => n + p.size, 0),
    };
  } finally {
    dispose();
  }
}

export function measureStepInChild(c: StepCase, timing: MedianOptions): StepMeasurement {
  return runChild<StepMeasurement>('step-child', { stepCase: c, timing }, `bench step: ${stepKey(c)}`);
}
