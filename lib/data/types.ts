// The contract between datasets, augmentation, the loader and the trainer. A dataset hands out
// decoded examples in their stored form (8-bit RGB, 8-bit class ids); augmentation and
// normalisation happen in the loader, seeded, so any dataset trains the same way.

/** A colour: red, green, blue in 0..255. */
export type RGB = readonly [number, number, number];

/**
 * One decoded example: RGB interleaved [H, W, 3] and class ids [H, W] (255 = ignore). Treat the
 * arrays as read-only: a dataset may hand out the same arrays again (the synthetic one caches).
 */
export interface RawSample {
  image: Uint8Array;
  label: Uint8Array;
  height: number;
  width: number;
  /** Where it came from (a file stem, or `synthetic-<seed>-<index>`): names predictions and errors. */
  name: string;
}

export interface SegDataset {
  /** Shown in logs and run folders, e.g. `synthetic(seed 1, 512)` or the folder's path. */
  readonly name: string;
  readonly length: number;
  /** numClasses = classes.length; ids outside [0, numClasses) other than 255 are an error. */
  readonly classes: readonly string[];
  /** One RGB colour per class, for masks and overlays. */
  readonly palette: readonly RGB[];
  /** Decodes example `index` (0 <= index < length); rejects with an Error naming the file. */
  get(index: number): Promise<RawSample>;
}
