// Seeds for the data pipeline: every example and every augmentation draws from a Generator seeded by
// a hash of (seed, stream, ...indices), so any one of them can be made again alone, in any order, on
// any machine (resuming at batch k needs nothing from batches 0..k-1).
import { Generator } from '../random.js';

function mix32(h: number, v: number): number {
  // murmur3's 32-bit block mix, then its finaliser: small changes in any part change every bit.
  let k = Math.imul(v >>> 0, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) >>> 0;
  return h;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 53-bit seed from non-negative safe integers (each split into two 32-bit words). */
export function hashSeed(...parts: number[]): number {
  let a = 0x243f6a88;
  let b = 0x85a308d3;
  for (const p of parts) {
    if (!Number.isSafeInteger(p) || p < 0) throw new Error(`data seed: expected non-negative integers, got ${JSON.stringify(parts)}`);
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296);
    a = mix32(mix32(a, lo), hi);
    b = mix32(mix32(b, hi ^ 0x9e3779b9), lo);
  }
  return fmix32(a) * 2097152 + (fmix32(b ^ parts.length) >>> 11);
}

/** The generator for one (seed, stream, ...indices). */
export function generatorAt(...parts: number[]): Generator {
  return new Generator(hashSeed(...parts));
}

/** Fixed stream ids, so the same user seed gives unrelated numbers in each use. */
export const STREAM = { trainScenes: 1, valScenes: 2, order: 3, augment: 4 } as const;

/** A uniform integer in [lo, hi]. */
export function randInt(g: Generator, lo: number, hi: number): number {
  return lo + Math.floor(g.uniform() * (hi - lo + 1));
}

/** A uniform number in [lo, hi). */
export function randUniform(g: Generator, lo: number, hi: number): number {
  return lo + g.uniform() * (hi - lo);
}
