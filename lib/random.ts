// Seeded pseudo-random numbers for tensor creation and initialisation (xoshiro128**, seeded through
// splitmix32). Same seed, same numbers, on every machine; not PyTorch's stream.

export class Generator {
  #s = new Uint32Array(4);

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number): void {
    if (!Number.isSafeInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
    let x = (seed >>> 0) ^ Math.floor(seed / 4294967296);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** The internal state (four 32-bit words): with setState, a resumed run draws the same numbers. */
  getState(): number[] {
    return [...this.#s];
  }

  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff))
      throw new Error(`Generator.setState: expected 4 unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    if (state.every((v) => v === 0)) throw new Error('Generator.setState: the all-zero state is not a valid xoshiro128** state');
    this.#s.set(state);
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return (this.nextUint32() * 2097152 + (this.nextUint32() >>> 11)) / 9007199254740992;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator used when no seed is given; reseed with manualSeed(). */
export const defaultGenerator = new Generator(0);

export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}

/** The generator for an optional seed: a fresh one when seeded, else the default. */
export function generatorFor(seed?: number): Generator {
  return seed === undefined ? defaultGenerator : new Generator(seed);
}
