// Option checks shared by the blocks: every problem names the block and the value it got.
import { checkOptionNames } from '../../ops/options.js';

export function positiveInt(block: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${block}: ${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

export function dropoutP(block: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${block}: dropout must be in [0, 1], got ${String(v)}`);
  return v;
}

export function seedOf(block: string, v: unknown): number | undefined {
  if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= 0))
    throw new Error(`${block}: seed must be a non-negative integer, got ${String(v)}`);
  return v as number | undefined;
}

/** Options are plain objects; a misspelt name must fail rather than fall back to a default. */
export function checkOptions(block: string, options: unknown, allowed: readonly string[]): void {
  if (typeof options !== 'object' || options === null)
    throw new Error(`${block}: expected an options object { ${allowed.join(', ')} }, got ${String(options)}`);
  checkOptionNames(block, options, allowed);
}

const fmt = (s: number[]) => `[${s.join(', ')}]`;

/** x must be [B, channels, H, W]. */
export function expectMap(block: string, name: string, x: unknown, channels: number): [number, number, number] {
  const shape = (x as { shape?: number[] })?.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || shape[1] !== channels)
    throw new Error(`${block}: expected ${name} [B, ${channels}, H, W], got ${Array.isArray(shape) ? fmt(shape) : String(x)}`);
  return [shape[0], shape[2], shape[3]];
}
