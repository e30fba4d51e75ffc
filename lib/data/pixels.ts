// The normalisation's constants and its per-pixel loop, apart from normalize.ts so that the
// loader's worker thread (prepare-worker.ts) can use them without loading the native addon.

/** The mean subtracted from each input channel, in the network's BGR order. */
export const MEAN_BGR: readonly [number, number, number] = [102.98, 115.95, 122.77];

/** The mean as an 8-bit RGB pixel: what padding of an image is filled with, so it normalises to about 0. */
export const MEAN_RGB_U8: readonly [number, number, number] = [123, 116, 103];

/** The label id every loss and metric skips. */
export const IGNORE_INDEX = 255;

/** Writes one RGB [H, W, 3] image as normalised BGR planes [3, H, W] into out at offset. */
export function normalizeInto(image: Uint8Array, height: number, width: number, out: Float32Array, offset = 0): void {
  const n = height * width;
  const [mb, mg, mr] = MEAN_BGR;
  for (let i = 0; i < n; i++) {
    out[offset + i] = image[3 * i + 2] - mb;
    out[offset + n + i] = image[3 * i + 1] - mg;
    out[offset + 2 * n + i] = image[3 * i] - mr;
  }
}
