import { afterAll, describe, expect, it } from 'vitest';

import { defaultDevice } from '../lib/device.js';
import { native } from '../lib/native/index.js';
import { Fixture, counted } from './helpers/parity.js';

interface Case {
  key: string;
  input: string;
  size: [number, number];
  /** F.interpolate's scale_factor: sampled at 1/scale (alignCorners off), as PyTorch. */
  scale?: [number, number];
  alignCorners: boolean;
}

const fx = new Fixture('interp');
const cases = JSON.parse(fx.metadata.cases) as Case[];
afterAll(() => fx.dispose());

describe('interpolateBilinear matches F.interpolate(mode="bilinear")', () => {
  it.each(counted('interp cases', cases.map((c) => [c.key, c] as const), 26))('%s forward and input gradient', (_, c) => {
    const x = fx.input(`${c.input}.x`);
    const scale = c.scale ? { scale: c.scale } : {};
    const y = native.interpolateBilinear(x, { size: c.size, alignCorners: c.alignCorners, ...scale });
    fx.expect(`${c.key}.y`, y);
    const dx = native.interpolateBilinearBackward(fx.input(`${c.input}.dy`), {
      inputShape: x.shape,
      alignCorners: c.alignCorners,
      ...scale,
    });
    fx.expect(`${c.key}.dx`, dx);
    y.dispose();
    dx.dispose();
  });

  it('covers both align_corners values, size 1 on either side, up- and downsampling', () => {
    expect(cases.filter((c) => c.alignCorners).length).toBe(cases.length / 2);
    expect(cases.some((c) => c.size[0] === 1)).toBe(true);
    expect(cases.some((c) => fx.shape(`${c.input}.x`)[2] === 1)).toBe(true);
    // By scale factor: up, down, an axis kept at its size, and 1/scale differing from in/out.
    const scaled = cases.filter((c) => c.scale && !c.alignCorners);
    expect(scaled.length).toBeGreaterThanOrEqual(4);
    expect(scaled.some((c) => c.size[0] === fx.shape(`${c.input}.x`)[2])).toBe(true);
    expect(scaled.some((c) => c.size[1] < fx.shape(`${c.input}.x`)[3])).toBe(true);
    expect(scaled.some((c) => c.scale![1] * fx.shape(`${c.input}.x`)[3] !== c.size[1])).toBe(true);
  });

  it('a scale with a single number applies to both axes', () => {
    const x = fx.input('s1_5.x');
    const a = native.interpolateBilinear(x, { size: [7, 10], scale: 1.5 });
    const b = native.interpolateBilinear(x, { size: [7, 10], scale: [1.5, 1.5] });
    expect(Array.from(a.toArray())).toEqual(Array.from(b.toArray()));
    a.dispose();
    b.dispose();
  });

  it('backward is deterministic', () => {
    const dy = fx.input('ann8x.dy');
    const a = native.interpolateBilinearBackward(dy, { inputShape: [1, 1, 5, 6], alignCorners: true });
    const b = native.interpolateBilinearBackward(dy, { inputShape: [1, 1, 5, 6], alignCorners: true });
    expect(Array.from(a.toArray())).toEqual(Array.from(b.toArray()));
    a.dispose();
    b.dispose();
  });

  it('propagates NaN and Inf as PyTorch does (zero weights times Inf give NaN there too)', () => {
    // PyTorch 1.13, size (1, 7), align_corners=True: [[nan x 7]] and [0, 0.5, 1, 1.5, nan, nan, nan].
    const run = (v: number[]) => {
      const x = native.fromArray(new Float32Array(v), [1, 1, 1, 4], defaultDevice());
      const y = native.interpolateBilinear(x, { size: [1, 7], alignCorners: true });
      const out = Array.from(y.toArray());
      x.dispose();
      y.dispose();
      return out;
    };
    expect(run([0, Number.NaN, 2, Infinity])).toEqual(new Array(7).fill(Number.NaN));
    expect(run([0, 1, 2, Infinity])).toEqual([0, 0.5, 1, 1.5, Number.NaN, Number.NaN, Number.NaN]);
  });
});

describe('interpolateBilinear rejects bad input', () => {
  const x = native.full([1, 2, 3, 3], 1);
  const i = native.full([1, 2, 3, 3], 1, 'int32');
  afterAll(() => {
    x.dispose();
    i.dispose();
  });

  it('forward', () => {
    const f = native.interpolateBilinear;
    expect(() => f(native.full([2, 3, 3], 1), { size: [4, 4] })).toThrow(/interpolateBilinear: x float32 \[2,3,3\]: expected rank 4/);
    expect(() => f(i, { size: [4, 4] })).toThrow(/interpolateBilinear: x int32 .*expected dtype float32/);
    expect(() => f(native.empty([1, 0, 3, 3]), { size: [4, 4] })).toThrow(/interpolateBilinear: .*is empty/);
    expect(() => f(x, {} as never)).toThrow(/interpolateBilinear: option 'size'.*required/);
    expect(() => f(x, { size: [0, 4] })).toThrow(/interpolateBilinear: size\[0\] must be between 1/);
    expect(() => f(x, { size: [4, -2] })).toThrow(/interpolateBilinear: size\[1\]/);
    expect(() => f(x, { size: [4, 4.5] as [number, number] })).toThrow(/interpolateBilinear: option 'size'.*integer/);
    expect(() => f(x, { size: [4, 4, 4] as unknown as [number, number] })).toThrow(/interpolateBilinear: .*pair/);
    expect(() => f(x, { size: [4, 4], alignCorners: 1 as unknown as boolean })).toThrow(/interpolateBilinear: option 'alignCorners' must be a boolean/);
    expect(() => f(native.full([64, 64, 1, 1], 1), { size: [1 << 20, 1 << 20] })).toThrow(/interpolateBilinear: output shape .* too many elements/);
    const d = native.full([1, 1, 2, 2], 1);
    d.dispose();
    expect(() => f(d, { size: [4, 4] })).toThrow(/interpolateBilinear: tensor 'x' \[1,1,2,2\] is disposed/);
    expect(() => f(1 as never, { size: [4, 4] })).toThrow(/interpolateBilinear: argument 'x' must be a tensor/);
    expect(() => f(x, { size: [4, 4], align_corners: true } as never)).toThrow(
      /^interpolateBilinear: unknown option 'align_corners' \(expected one of size, alignCorners, scale\)/,
    );
    expect(() => f(x, { size: [4, 4], scale: [0, 1.5] })).toThrow(/interpolateBilinear: option 'scale' must hold finite positive/);
    expect(() => f(x, { size: [4, 4], scale: Number.NaN })).toThrow(/interpolateBilinear: option 'scale' must hold finite positive/);
    expect(() => f(x, { size: [4, 4], scale: [1, 2, 3] as never })).toThrow(/interpolateBilinear: option 'scale' must be a positive number or a pair/);
    expect(() => f(x, { size: [4, 4], scale: '2' as never })).toThrow(/interpolateBilinear: option 'scale' must be a positive number or a pair/);
  });

  it('backward', () => {
    const f = native.interpolateBilinearBackward;
    expect(() => f(x, { inputShape: [1, 3, 2, 2] })).toThrow(/interpolateBilinearBackward: inputShape \[1,3,2,2\] does not match .*dy float32 \[1,2,3,3\]/);
    expect(() => f(x, { inputShape: [1, 2, 2] })).toThrow(/interpolateBilinearBackward: option 'inputShape' must have 4 entries/);
    expect(() => f(x, { inputShape: [1, 2, 0, 2] })).toThrow(/interpolateBilinearBackward: inputShape\[2\] must be between 1/);
    expect(() => f(x, {} as never)).toThrow(/interpolateBilinearBackward: option 'inputShape'.*required/);
    expect(() => f(i, { inputShape: [1, 2, 2, 2] })).toThrow(/interpolateBilinearBackward: dy int32/);
    expect(() => f(native.full([2, 3], 1), { inputShape: [1, 2, 2, 2] })).toThrow(/interpolateBilinearBackward: .*expected rank 4/);
    expect(() => f(x, { inputShape: [1, 2, 2, 2], scales: [2, 2] } as never)).toThrow(/^interpolateBilinearBackward: unknown option 'scales'/);
    expect(() => f(x, { inputShape: [1, 2, 2, 2], scale: [-1, 1] })).toThrow(/interpolateBilinearBackward: option 'scale' must hold finite positive/);
  });
});
