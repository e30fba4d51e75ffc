// The confusion matrix and the metrics read off it, against small cases computed by hand.
import { describe, expect, it } from 'vitest';

import { ConfusionMatrix, nanMean } from '../lib/train/metrics.js';

describe('ConfusionMatrix', () => {
  // truth      0 0 1 1 2 255
  // prediction 0 1 1 1 0 2
  // counts (rows truth, cols prediction): [1 1 0; 0 2 0; 1 0 0]
  const truth = [0, 0, 1, 1, 2, 255];
  const pred = [0, 1, 1, 1, 0, 2];

  it('counts truth x prediction and skips label 255', () => {
    const m = new ConfusionMatrix(3).update(pred, truth);
    expect(m.toRows()).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 0],
    ]);
    expect(m.total).toBe(5);
  });

  it('IoU, mIoU, pixel accuracy and class accuracy as computed by hand', () => {
    const m = new ConfusionMatrix(3).update(pred, truth);
    // class 0: TP 1, FN 1 (0->1), FP 1 (2->0): 1/3; class 1: TP 2, FP 1: 2/3; class 2: TP 0, FN 1: 0.
    const iou = m.iou();
    expect(iou[0]).toBeCloseTo(1 / 3, 15);
    expect(iou[1]).toBeCloseTo(2 / 3, 15);
    expect(iou[2]).toBe(0);
    expect(m.miou()).toBeCloseTo(1 / 3, 15);
    expect(m.pixelAccuracy()).toBeCloseTo(3 / 5, 15);
    expect(m.classAccuracy()).toEqual([0.5, 1, 0]);
  });

  it('a class in neither truth nor prediction has IoU NaN and is left out of the mean', () => {
    const m = new ConfusionMatrix(4).update([0, 0, 1], [0, 1, 1]);
    const iou = m.iou();
    expect(iou[0]).toBeCloseTo(1 / 2, 15);
    expect(iou[1]).toBeCloseTo(1 / 2, 15);
    expect(iou[2]).toBeNaN();
    expect(iou[3]).toBeNaN();
    expect(m.miou()).toBeCloseTo(1 / 2, 15);
    // Predicted but never true: union 1, IoU 0 (counts in the mean).
    const fp = new ConfusionMatrix(3).update([0, 2], [0, 0]);
    expect(fp.iou()).toEqual([0.5, NaN, 0]);
    expect(fp.miou()).toBeCloseTo(0.25, 15);
  });

  it('accumulates over batches exactly as over the concatenation', () => {
    const a = new ConfusionMatrix(3).update(pred.slice(0, 3), truth.slice(0, 3)).update(pred.slice(3), truth.slice(3));
    const b = new ConfusionMatrix(3).update(pred, truth);
    expect(Array.from(a.counts)).toEqual(Array.from(b.counts));
    const c = new ConfusionMatrix(3).update(pred.slice(0, 2), truth.slice(0, 2));
    c.merge(new ConfusionMatrix(3).update(pred.slice(2), truth.slice(2)));
    expect(Array.from(c.counts)).toEqual(Array.from(b.counts));
    // Dataset mIoU is not the mean of per-image mIoUs: it is read off the summed counts.
    expect(c.miou()).toBeCloseTo(1 / 3, 15);
  });

  it('takes typed arrays (Uint8Array labels, Int32Array predictions)', () => {
    const m = new ConfusionMatrix(3).update(Int32Array.from(pred), Uint8Array.from(truth));
    expect(m.pixelAccuracy()).toBeCloseTo(0.6, 15);
  });

  it('summary() carries every metric and the class names', () => {
    const s = new ConfusionMatrix(3).update(pred, truth).summary(['road', 'car', 'sky']);
    expect(s.classes).toEqual(['road', 'car', 'sky']);
    expect(s.miou).toBeCloseTo(1 / 3, 15);
    expect(s.pixelAccuracy).toBeCloseTo(0.6, 15);
    expect(() => new ConfusionMatrix(3).summary(['a', 'b'])).toThrow(/2 class names for 3 classes/);
  });

  it('labels outside [0, K) other than 255 are an error naming them and the image', () => {
    const m = new ConfusionMatrix(3);
    expect(() => m.update([0, 0, 0, 0], [0, 7, 3, 7], 'img-1')).toThrow(
      /img-1.*label ids 3, 7 are outside the 3 classes \[0, 3\)/,
    );
    expect(() => m.update([0, 5], [0, 1])).toThrow(/predicted ids 5 are outside/);
    expect(() => m.update([0], [0, 1])).toThrow(/1 predictions for 2 labels/);
    expect(m.total).toBe(0);
  });

  it('an empty matrix gives NaN metrics rather than a made-up number', () => {
    const m = new ConfusionMatrix(2);
    expect(m.pixelAccuracy()).toBeNaN();
    expect(m.miou()).toBeNaN();
    expect(() => new ConfusionMatrix(0)).toThrow(/numClasses/);
    expect(() => new ConfusionMatrix(256)).toThrow(/numClasses/);
  });

  it('nanMean skips NaN', () => {
    expect(nanMean([1, NaN, 3])).toBe(2);
    expect(nanMean([NaN])).toBeNaN();
  });
});
