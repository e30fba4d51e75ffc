// Segmentation metrics from a confusion matrix, as mmsegmentation and openseg compute them: one
// K x K count table accumulated over every pixel of a dataset (rows = truth, columns = prediction,
// label 255 ignored), and IoU, mIoU and pixel accuracy read off it at the end. Counting first and
// dividing once is what makes the dataset mIoU independent of how images are batched.
import { IGNORE_INDEX } from '../data/normalize.js';

/** What an evaluation reports: per-class IoU (NaN where the class is in neither truth nor prediction). */
export interface SegMetrics {
  /** Mean IoU over the classes whose union is non-empty (NaN IoUs are left out, as mmseg/openseg do). */
  miou: number;
  /** Correct pixels / labelled pixels (ignored pixels excluded). */
  pixelAccuracy: number;
  /** Per class: TP / (TP + FP + FN). */
  iou: number[];
  /** Per class: TP / (TP + FN), NaN for a class absent from the truth. */
  classAccuracy: number[];
  classes: string[];
}

/** The mean of the values that are not NaN (NaN when there are none). */
export function nanMean(values: readonly number[]): number {
  let sum = 0;
  let n = 0;
  for (const v of values)
    if (!Number.isNaN(v)) {
      sum += v;
      n++;
    }
  return n === 0 ? NaN : sum / n;
}

function distinctOutside(values: ArrayLike<number>, numClasses: number, allowIgnore: boolean): number[] {
  const bad = new Set<number>();
  for (let i = 0; i < values.length && bad.size < 16; i++) {
    const v = values[i];
    if (!(v >= 0 && v < numClasses && Number.isInteger(v)) && !(allowIgnore && v === IGNORE_INDEX)) bad.add(v);
  }
  return [...bad].sort((a, b) => a - b);
}

/**
 * A K x K confusion matrix accumulated over batches: counts[t * K + p] is the number of pixels of
 * true class t predicted as p. Counts are float64, exact up to 2^53 pixels.
 */
export class ConfusionMatrix {
  readonly numClasses: number;
  readonly counts: Float64Array;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > IGNORE_INDEX)
      throw new Error(`ConfusionMatrix: numClasses must be an integer in [1, ${IGNORE_INDEX}], got ${numClasses}`);
    this.numClasses = numClasses;
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds one image (or batch) of predictions and labels, same length, flattened alike. Label 255 is
   * skipped; any other label or prediction outside [0, K) is an error naming the values (and `where`,
   * e.g. the image's name).
   */
  update(prediction: ArrayLike<number>, label: ArrayLike<number>, where = 'update'): this {
    const k = this.numClasses;
    if (prediction.length !== label.length)
      throw new Error(`ConfusionMatrix (${where}): ${prediction.length} predictions for ${label.length} labels`);
    const badLabels = distinctOutside(label, k, true);
    if (badLabels.length)
      throw new Error(
        `ConfusionMatrix (${where}): label ids ${badLabels.join(', ')} are outside the ${k} classes [0, ${k}) (255 = ignore)`,
      );
    const badPredictions = distinctOutside(prediction, k, false);
    if (badPredictions.length)
      throw new Error(`ConfusionMatrix (${where}): predicted ids ${badPredictions.join(', ')} are outside the ${k} classes [0, ${k})`);
    const counts = this.counts;
    for (let i = 0; i < label.length; i++) {
      const t = label[i];
      if (t !== IGNORE_INDEX) counts[t * k + prediction[i]]++;
    }
    return this;
  }

  /** Adds another matrix's counts (e.g. from another worker or split). */
  merge(other: ConfusionMatrix): this {
    if (other.numClasses !== this.numClasses)
      throw new Error(`ConfusionMatrix.merge: ${other.numClasses} classes into ${this.numClasses}`);
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    return this;
  }

  reset(): this {
    this.counts.fill(0);
    return this;
  }

  /** Labelled pixels counted so far. */
  get total(): number {
    let s = 0;
    for (const c of this.counts) s += c;
    return s;
  }

  /** The K x K table as rows (truth) of columns (prediction). */
  toRows(): number[][] {
    const k = this.numClasses;
    return Array.from({ length: k }, (_, t) => Array.from(this.counts.subarray(t * k, (t + 1) * k)));
  }

  #tally(): { tp: number[]; truth: number[]; predicted: number[] } {
    const k = this.numClasses;
    const tp = new Array<number>(k).fill(0);
    const truth = new Array<number>(k).fill(0);
    const predicted = new Array<number>(k).fill(0);
    for (let t = 0; t < k; t++)
      for (let p = 0; p < k; p++) {
        const c = this.counts[t * k + p];
        truth[t] += c;
        predicted[p] += c;
        if (t === p) tp[t] += c;
      }
    return { tp, truth, predicted };
  }

  /** Per-class IoU = TP / (TP + FP + FN); NaN for a class in neither truth nor prediction. */
  iou(): number[] {
    const { tp, truth, predicted } = this.#tally();
    return tp.map((x, c) => {
      const union = truth[c] + predicted[c] - x;
      return union === 0 ? NaN : x / union;
    });
  }

  /** Per-class recall TP / (TP + FN); NaN for a class absent from the truth. */
  classAccuracy(): number[] {
    const { tp, truth } = this.#tally();
    return tp.map((x, c) => (truth[c] === 0 ? NaN : x / truth[c]));
  }

  /** The mean of the defined IoUs. */
  miou(): number {
    return nanMean(this.iou());
  }

  /** Correct / labelled pixels; NaN before any labelled pixel was counted. */
  pixelAccuracy(): number {
    const { tp } = this.#tally();
    const total = this.total;
    return total === 0 ? NaN : tp.reduce((a, b) => a + b, 0) / total;
  }

  /** Every metric at once, with the class names (checked against K). */
  summary(classes: readonly string[]): SegMetrics {
    if (classes.length !== this.numClasses)
      throw new Error(`ConfusionMatrix.summary: ${classes.length} class names for ${this.numClasses} classes`);
    const iou = this.iou();
    return {
      miou: nanMean(iou),
      pixelAccuracy: this.pixelAccuracy(),
      iou,
      classAccuracy: this.classAccuracy(),
      classes: [...classes],
    };
  }
}
