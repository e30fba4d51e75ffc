// Evaluation of a model on a dataset: every image inferred as the official tester does
// (inference.ts), its arg-max counted into one confusion matrix, the metrics read off at the end.
// Tensors live only inside each image's inference, so memory stays flat over any dataset; the next
// image is decoded (on libuv's threads, for folder datasets) while the current one is inferred.
import type { SegDataset } from '../data/types.js';
import { argmaxClasses, predictLogits, resolveInference, type InferenceOptions, type SegmentationModel } from './inference.js';
import { ConfusionMatrix, type SegMetrics } from './metrics.js';

export interface EvaluateOptions extends InferenceOptions {
  /** Called after each image with the count done, the total and the image's name. */
  onProgress?: (done: number, total: number, name: string) => void;
  /** Evaluate only the first `limit` images. */
  limit?: number;
}

export interface EvaluateResult extends SegMetrics {
  confusion: ConfusionMatrix;
  /** Images evaluated. */
  images: number;
}

/**
 * mIoU, per-class IoU and pixel accuracy of `model` on `dataset` (labels 255 ignored). The model
 * runs in eval mode without gradients and is returned to its previous mode after each image.
 */
export async function evaluate(model: SegmentationModel, dataset: SegDataset, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const { onProgress, limit, ...inference } = options;
  resolveInference(inference);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
    throw new Error(`evaluate: limit must be a positive integer, got ${JSON.stringify(limit)}`);
  const total = Math.min(dataset.length, limit ?? Infinity);
  if (total === 0) throw new Error(`evaluate: ${dataset.name} has no images`);
  const numClasses = dataset.classes.length;
  const confusion = new ConfusionMatrix(numClasses);
  let next = dataset.get(0);
  for (let i = 0; i < total; i++) {
    const sample = await next;
    if (i + 1 < total) {
      next = dataset.get(i + 1);
      // Should this prefetch fail, the error surfaces at its await on the next turn; until then it
      // must not count as an unhandled rejection.
      next.catch(() => {});
    }
    const logits = predictLogits(model, sample, inference);
    if (logits.numClasses !== numClasses)
      throw new Error(`evaluate: the model predicts ${logits.numClasses} classes, but ${dataset.name} has ${numClasses} (${dataset.classes.join(', ')})`);
    confusion.update(argmaxClasses(logits), sample.label, `${dataset.name}: ${sample.name}`);
    onProgress?.(i + 1, total, sample.name);
  }
  return { ...confusion.summary(dataset.classes), confusion, images: total };
}
