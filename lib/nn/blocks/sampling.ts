// How APNB and AFNB pick their S key/value anchors: the official pyramid of adaptive average pools
// and the paper's Table 7 alternatives (max pooling, random pixels, one plain level).
import { flatten } from '../../ops/shape.js';
import { gatherPositions, pyramidPool, samplePositions } from '../../ops/pool.js';
import type { Generator } from '../../random.js';
import type { Device } from '../../device.js';
import type { Tensor } from '../../tensor.js';

export type Sampling = 'pyramid-avg' | 'pyramid-max' | 'pyramid-random' | 'plain-avg' | 'plain-max' | 'plain-random';

export const SAMPLINGS: readonly Sampling[] = ['pyramid-avg', 'pyramid-max', 'pyramid-random', 'plain-avg', 'plain-max', 'plain-random'];

/** The official pyramid (S = 1 + 9 + 36 + 64 = 110). */
export const DEFAULT_SIZES: readonly number[] = [1, 3, 6, 8];

const fmt = (s: number[]) => `[${s.join(', ')}]`;

export class AnchorSampler {
  readonly sampling: Sampling;
  readonly sizes: number[];
  /** S: the number of anchors. */
  readonly count: number;
  readonly #block: string;
  /** The block's seeded stream, or null for the default generator (manualSeed). */
  readonly #generator: Generator | null;

  constructor(block: string, sampling: unknown, sizes: unknown, generator: Generator | null) {
    this.#block = block;
    if (!SAMPLINGS.includes(sampling as Sampling))
      throw new Error(`${block}: unknown sampling ${JSON.stringify(sampling)} (expected one of ${SAMPLINGS.join(', ')})`);
    this.sampling = sampling as Sampling;
    const plain = this.sampling.startsWith('plain');
    if (sizes === undefined && plain)
      throw new Error(`${block}: sampling '${this.sampling}' needs sizes: [n], one size (S = n^2), e.g. [15]`);
    const list = sizes ?? DEFAULT_SIZES;
    if (!Array.isArray(list) || list.length === 0 || !list.every((n) => Number.isInteger(n) && n >= 1))
      throw new Error(`${block}: sizes must be a non-empty array of positive integers, got ${JSON.stringify(sizes)}`);
    if (plain && list.length !== 1)
      throw new Error(`${block}: sampling '${this.sampling}' takes one size n (S = n^2), got sizes ${fmt(list)}`);
    this.sizes = [...(list as number[])];
    this.count = this.sizes.reduce((s, n) => s + n * n, 0);
    this.#generator = generator;
  }

  get random(): boolean {
    return this.sampling.endsWith('random');
  }

  /** New random positions, int32 [batch, S] of flat h*W+w in a height x width map, on `device` (the keys'). */
  draw(batch: number, height: number, width: number, device?: Device): Tensor {
    const n = this.sizes[0];
    if (this.sampling === 'plain-random' && n * n > height * width)
      throw new Error(`${this.#block}: plain-random sampling needs n^2 = ${n * n} distinct positions, but the key map is only ${height}x${width}`);
    const seed = this.#generator?.nextUint32();
    const where = this.sampling === 'plain-random' ? { n, mode: 'plain' as const } : { sizes: this.sizes, mode: 'pyramid' as const };
    return samplePositions({ height, width, batch, device, ...where, ...(seed === undefined ? {} : { seed }) });
  }

  /** Checks positions given from outside: int32 [batch, S]. */
  check(positions: Tensor, batch: number): void {
    const s = positions.shape;
    if (positions.dtype !== 'int32' || s.length !== 2 || s[0] !== batch || s[1] !== this.count)
      throw new Error(
        `${this.#block}: positions must be int32 [${batch}, ${this.count}] (batch x anchors), got ${positions.dtype} ${fmt(s)}`,
      );
  }

  /** x [B,C,H,W] -> anchors [B,C,S]; random sampling reads x at `positions`. */
  pool(x: Tensor, positions: Tensor | null): Tensor {
    if (this.random) return gatherPositions(x, positions!);
    return pyramidPool(x, { sizes: this.sizes, mode: this.sampling.endsWith('max') ? 'max' : 'avg' });
  }
}

/** Without a sampler every position is an anchor (the non-local blocks): [B,C,H,W] -> [B,C,H*W]. */
export function allPositions(x: Tensor): Tensor {
  return flatten(x, 2);
}
