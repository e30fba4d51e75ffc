// nn.APNB, nn.AFNB, nn.NonLocal, nn.FusionNonLocal and nn.CommonFusion against the official key list
// and against PyTorch (test/reference/blocks.py over ann_ref_blocks.py): evaluation output and
// traced intermediates, training output, the gradients of the inputs and of every parameter, and
// the running statistics; random sampling fed the same positions on both sides.

import { afterAll, describe, expect, it } from 'vitest';

import { F, memory, nn, noGrad, randn, tensor, tidy, type Tensor } from '../lib/index.js';
import { Fixture, counted } from './helpers/parity.js';
import { officialStateDict } from './helpers/official.js';


type Block = nn.APNB | nn.AFNB | nn.NonLocal | nn.FusionNonLocal | nn.CommonFusion;
type Kind = 'apnb' | 'afnb' | 'nb' | 'fnb' | 'common';

const SAMPLING_CASES = [
  'pyramid-avg',
  'pyramid-max',
  'plain-avg',
  'plain-max',
  'pyramid-avg_1236',
  'pyramid-avg_14812',
  'pyramid-random',
  'plain-random',
];
const CASES: [string, Kind][] = [
  ...SAMPLING_CASES.flatMap((c): [string, Kind][] => [
    [`apnb_${c}`, 'apnb'],
    [`afnb_${c}`, 'afnb'],
  ]),
  ['nb', 'nb'],
  ['fnb', 'fnb'],
  ['common', 'common'],
];

const fixtures = new Map<string, Fixture>();
function fixture(name: string): Fixture {
  if (!fixtures.has(name)) fixtures.set(name, new Fixture(`blocks_${name}`));
  return fixtures.get(name)!;
}
afterAll(() => {
  for (const fx of fixtures.values()) fx.dispose();
});

function make(kind: Kind, options: object): Block {
  switch (kind) {
    case 'apnb':
      return new nn.APNB(options as nn.APNBOptions);
    case 'afnb':
      return new nn.AFNB(options as nn.AFNBOptions);
    case 'nb':
      return new nn.NonLocal(options as nn.NonLocalOptions);
    case 'fnb':
      return new nn.FusionNonLocal(options as nn.FusionNonLocalOptions);
    case 'common':
      return new nn.CommonFusion(options as nn.CommonFusionOptions);
  }
}

function input(fx: Fixture, key: string, requiresGrad = false): Tensor {
  const r = fx.raw(key);
  const data = r.data instanceof Float32Array || r.data instanceof Int32Array ? r.data : Float32Array.from(r.data as ArrayLike<number>);
  return tensor(data, r.shape, { requiresGrad });
}

/** The block of the fixture with PyTorch's state dict loaded strictly. */
function loaded(fx: Fixture, kind: Kind): Block {
  const block = make(kind, JSON.parse(fx.metadata.options) as object);
  expect(Object.keys(block.stateDict())).toEqual(JSON.parse(fx.metadata.state_dict_keys));
  expect(block.namedParameters().map(([n]) => n)).toEqual(JSON.parse(fx.metadata.parameter_names));
  const dict = Object.fromEntries(
    [...fx.tensors.keys()].filter((k) => k.startsWith('state.')).map((k) => [k.slice('state.'.length), input(fx, k)]),
  );
  try {
    expect(block.loadStateDict(dict)).toEqual({ missingKeys: [], unexpectedKeys: [] });
  } finally {
    for (const t of Object.values(dict)) t.dispose();
  }
  return block;
}

const isFusion = (kind: Kind) => kind === 'afnb' || kind === 'fnb' || kind === 'common';
// The fixtures with more than one input set (test/reference/blocks.py); the others have one.
const INPUT_SETS: Record<string, number> = { 'afnb_pyramid-avg': 3, 'apnb_pyramid-avg': 2, common: 2, fnb: 3, nb: 2 };
const sets = (fx: Fixture) => ['a', 'b', 'c'].filter((s) => fx.has(`${s}.eval.y.f64`));

function inputs(fx: Fixture, kind: Kind, s: string, requiresGrad = false): Tensor[] {
  return (isFusion(kind) ? ['low', 'high'] : ['x']).map((n) => input(fx, `${s}.${n}`, requiresGrad));
}

function call(block: Block, xs: Tensor[]): Tensor {
  return (block as nn.Module<Tensor[]>).call(...xs);
}

/** Gives PyTorch's positions to a random sampler; returns them (the caller disposes). */
function givePositions(block: Block, fx: Fixture, s: string): Tensor | null {
  if (!fx.has(`${s}.positions`)) return null;
  const p = input(fx, `${s}.positions`);
  (block as nn.APNB | nn.AFNB).positions = p;
  return p;
}

describe('official names and shapes', () => {
  const under = (prefix: string) => officialStateDict(prefix);
  const shapes = (b: Block) => Object.entries(b.stateDict()).map(([k, t]) => [k, t.shape]);

  it("APNB(512 -> 512, key 256, value 256) has exactly the official `context.2.` entries", () => {
    using apnb = new nn.APNB({ inChannels: 512, outChannels: 512, keyChannels: 256, valueChannels: 256, seed: 1 });
    expect(shapes(apnb)).toEqual(under('context.2.'));
    expect(apnb.stateDict()['stages.0.f_query.0.weight']).toBe(apnb.stateDict()['stages.0.f_key.0.weight']);
  });

  it("AFNB(low 1024, high 2048 -> 2048, key 256, value 256) has exactly the official `fusion.` entries", () => {
    using afnb = new nn.AFNB({ lowChannels: 1024, highChannels: 2048, outChannels: 2048, keyChannels: 256, valueChannels: 256, seed: 2 });
    expect(shapes(afnb)).toEqual(under('fusion.'));
    expect(afnb.stateDict()['stages.0.f_query.0.weight']).not.toBe(afnb.stateDict()['stages.0.f_key.0.weight']);
  });

  it('NB and FNB have the same names as APNB and AFNB; CommonFusion conv (no bias) and bn', () => {
    const o = { keyChannels: 4, valueChannels: 6, seed: 3 };
    using apnb = new nn.APNB({ inChannels: 8, outChannels: 8, ...o });
    using nb = new nn.NonLocal({ inChannels: 8, outChannels: 8, ...o });
    expect(shapes(nb)).toEqual(shapes(apnb));
    using afnb = new nn.AFNB({ lowChannels: 5, highChannels: 8, outChannels: 8, ...o });
    using fnb = new nn.FusionNonLocal({ lowChannels: 5, highChannels: 8, outChannels: 8, ...o });
    expect(shapes(fnb)).toEqual(shapes(afnb));
    using common = new nn.CommonFusion({ lowChannels: 5, highChannels: 8 });
    expect(shapes(common)).toEqual([
      ['conv.weight', [8, 5, 1, 1]],
      ['bn.weight', [8]],
      ['bn.bias', [8]],
      ['bn.running_mean', [8]],
      ['bn.running_var', [8]],
      ['bn.num_batches_tracked', []],
    ]);
  });

  it('W starts at zero, so a fresh block adds nothing to the fuse input; a seed makes it reproducible', () => {
    using a = new nn.APNB({ inChannels: 6, outChannels: 6, keyChannels: 4, valueChannels: 4, seed: 9 });
    using b = new nn.APNB({ inChannels: 6, outChannels: 6, keyChannels: 4, valueChannels: 4, seed: 9 });
    const w = a.stages.at(0).W;
    expect(Array.from(w.weight.toFloat32Array()).every((v) => v === 0)).toBe(true);
    expect(Array.from(w.bias!.toFloat32Array()).every((v) => v === 0)).toBe(true);
    for (const [k, t] of Object.entries(a.stateDict())) expect(t.native.toArray(), k).toEqual(b.stateDict()[k].native.toArray());
    expect(a.stateDict()['stages.0.f_key.0.weight'].native.toArray()).not.toEqual(a.stateDict()['stages.0.f_value.weight'].native.toArray());
    expect([a.sampling, a.sizes, a.dropout]).toEqual(['pyramid-avg', [1, 3, 6, 8], 0.05]);
  });
});

/** W folded into the fuse conv, or not: the fixtures are small, so 'auto' alone would not fold. */
function setFold(block: Block, fold: boolean): void {
  if ('foldW' in block) block.foldW = fold;
}

// The common fusion has no W to fold: once.
const FOLD_CASES = CASES.flatMap(([name, kind]): [string, Kind, boolean][] =>
  kind === 'common' ? [[name, kind, false]] : [[name, kind, true], [name, kind, false]],
);

describe.each(FOLD_CASES)('parity with PyTorch: %s (W folded: %s)', (name, kind, fold) => {
  const fx = fixture(name);
  const traced = kind !== 'common';

  it.each(counted(`${name} input sets`, sets(fx), INPUT_SETS[name] ?? 1))('input %s: evaluation output and traced query, key, value, weights, context, out', (s) => {
    using block = loaded(fx, kind);
    setFold(block, fold);
    block.eval();
    const trace: Record<string, Tensor> = {};
    if (traced) (block as nn.APNB).trace = trace;
    const positions = givePositions(block, fx, s);
    const before = memory().numTensors;
    const y = noGrad(() => tidy(() => call(block, inputs(fx, kind, s))));
    fx.expect(`${s}.eval.y`, y.native);
    y.dispose();
    const names = ['query', 'key', 'value', 'weights', 'context', 'out'].filter((k) => fx.has(`${s}.eval.${k}.f64`));
    if (traced && s !== 'a') expect(names.length).toBeGreaterThanOrEqual(5);
    for (const k of names) fx.expect(`${s}.eval.${k}`, trace[k].native);
    if (positions) expect(trace.positions.toInt32Array()).toEqual(positions.toInt32Array());
    // Only the trace's own copies outlive the forward.
    expect(memory().numTensors - before).toBe(Object.keys(trace).length);
    for (const t of Object.values(trace)) t.dispose();
    positions?.dispose();
  });

  it.each(counted(`${name} input sets`, sets(fx), INPUT_SETS[name] ?? 1))('input %s: training output, input and parameter gradients, running statistics', (s) => {
    using block = loaded(fx, kind);
    setFold(block, fold);
    block.train();
    const positions = givePositions(block, fx, s);
    const xs = inputs(fx, kind, s, true);
    const dy = input(fx, `${s}.train.dy`);
    const before = memory().numTensors;
    tidy(() => {
      const y = call(block, xs);
      fx.expect(`${s}.train.y`, y.native);
      F.sum(F.mul(y, dy)).backward();
    });
    const grads = block.parameters().length + xs.length;
    expect(memory().numTensors - before).toBe(grads);
    const names = isFusion(kind) ? ['low', 'high'] : ['x'];
    names.forEach((n, i) => fx.expectBothPaths(`${s}.train.grad.${n}`, xs[i].grad!.native));
    for (const [n, p] of block.namedParameters()) fx.expectBothPaths(`${s}.train.grad.${n}`, p.grad!.native);
    for (const [k, t] of Object.entries(block.stateDict())) {
      if (/running_(mean|var)$/.test(k)) fx.expect(`${s}.train.after.${k}`, t.native);
      else if (k.endsWith('num_batches_tracked')) expect(t.item(), k).toBe(fx.numbers(`${s}.train.after.${k}`)[0]);
    }
    for (const x of xs) {
      x.grad?.dispose();
      x.dispose();
    }
    dy.dispose();
    positions?.dispose();
  });
});

describe('random sampling', () => {
  const opts = { inChannels: 6, outChannels: 6, keyChannels: 4, valueChannels: 4 };

  it('draws positions with F.samplePositions from the seeded stream, new ones every forward, and uses them', () => {
    for (const [sampling, sizes, S] of [
      ['pyramid-random', [1, 3, 6, 8], 110],
      ['plain-random', [4], 16],
    ] as const) {
      using a = new nn.APNB({ ...opts, sampling, sizes: [...sizes], seed: 5 });
      using b = new nn.APNB({ ...opts, sampling, sizes: [...sizes], seed: 5 });
      a.eval();
      b.eval();
      const x = randn([2, 6, 7, 9], { seed: 1 });
      const run = (m: nn.APNB) => {
        const trace: Record<string, Tensor> = {};
        m.trace = trace;
        noGrad(() => tidy(() => m.call(x))).dispose();
        return trace;
      };
      const [t1, t2, u1] = [run(a), run(a), run(b)];
      expect(t1.positions.shape).toEqual([2, S]);
      expect(t1.key.shape).toEqual([2, S, 4]);
      expect(t1.positions.toInt32Array()).toEqual(u1.positions.toInt32Array());
      expect(t1.positions.toInt32Array()).not.toEqual(t2.positions.toInt32Array());
      // The traced key is the projected key read at the traced positions.
      const key = tidy(() => F.transpose(F.gatherPositions(a.stages.at(0).fKey.call(x), t2.positions), 1, 2));
      expect(key.toFloat32Array()).toEqual(t2.key.toFloat32Array());
      for (const t of [key, x, ...Object.values(t1), ...Object.values(t2), ...Object.values(u1)]) t.dispose();
    }
  });

  it('training forward and backward with drawn positions returns memory to baseline', () => {
    using m = new nn.AFNB({ lowChannels: 5, highChannels: 6, outChannels: 6, keyChannels: 4, valueChannels: 3, sampling: 'plain-random', sizes: [3], seed: 2 });
    const low = randn([2, 5, 6, 7], { seed: 3 });
    const high = randn([2, 6, 6, 7], { seed: 4, requiresGrad: true });
    const before = memory().numTensors;
    tidy(() => F.sum(m.call(low, high)).backward());
    expect(memory().numTensors - before).toBe(m.parameters().length + 1);
    m.zeroGrad();
    for (const t of [high.grad!, high, low]) t.dispose();
  });
});

describe('bad input', () => {
  const apnb = { inChannels: 6, outChannels: 6, keyChannels: 4, valueChannels: 4 };
  const afnb = { lowChannels: 5, highChannels: 6, outChannels: 6, keyChannels: 4, valueChannels: 3 };

  it('rejects impossible options with the block named', () => {
    expect(() => new nn.APNB({ ...apnb, sampling: 'pyramid-mean' as never })).toThrow(/^APNB: unknown sampling "pyramid-mean"/);
    expect(() => new nn.AFNB({ ...afnb, sampling: 'plain-avg', sizes: [1, 3] })).toThrow(/^AFNB: sampling 'plain-avg' takes one size n \(S = n\^2\), got sizes \[1, 3\]/);
    expect(() => new nn.APNB({ ...apnb, sampling: 'plain-max' })).toThrow(/^APNB: sampling 'plain-max' needs sizes: \[n\]/);
    expect(() => new nn.APNB({ ...apnb, sizes: [] })).toThrow(/^APNB: sizes must be a non-empty array of positive integers, got \[\]/);
    expect(() => new nn.APNB({ ...apnb, sizes: [1, 0, 3] })).toThrow(/^APNB: sizes must be/);
    expect(() => new nn.AFNB({ ...afnb, sizes: [2.5] })).toThrow(/^AFNB: sizes must be/);
    expect(() => new nn.APNB({ ...apnb, keyChannels: 0 })).toThrow(/^APNB: keyChannels must be a positive integer, got 0/);
    expect(() => new nn.NonLocal({ ...apnb, dropout: 2 })).toThrow(/^NonLocal: dropout must be in \[0, 1\], got 2/);
    expect(() => new nn.NonLocal({ ...apnb, sizes: [1] } as never)).toThrow(/^NonLocal: unknown option 'sizes'/);
    expect(() => new nn.FusionNonLocal({ ...afnb, key_channels: 4 } as never)).toThrow(/^FusionNonLocal: unknown option 'key_channels'/);
    expect(() => new nn.CommonFusion({ lowChannels: 3 } as never)).toThrow(/^CommonFusion: highChannels must be a positive integer/);
    expect(() => new nn.AFNB({ ...afnb, seed: -1 })).toThrow(/^AFNB: seed must be a non-negative integer/);
  });

  it('rejects inputs of the wrong channels, rank or batch, and positions of the wrong shape', () => {
    using a = new nn.APNB({ ...apnb, seed: 1 });
    using f = new nn.AFNB({ ...afnb, seed: 1 });
    using c = new nn.CommonFusion({ lowChannels: 5, highChannels: 6, seed: 1 });
    using r = new nn.APNB({ ...apnb, sampling: 'plain-random', sizes: [4], seed: 1 });
    tidy(() => {
      expect(() => a.call(randn([1, 5, 4, 4]))).toThrow(/^APNB: expected x \[B, 6, H, W\], got \[1, 5, 4, 4\]/);
      expect(() => a.call(randn([6, 4, 4]))).toThrow(/^APNB: expected x \[B, 6, H, W\], got \[6, 4, 4\]/);
      expect(() => f.call(randn([1, 6, 4, 4]), randn([1, 6, 4, 4]))).toThrow(/^AFNB: expected low \[B, 5, H, W\], got \[1, 6, 4, 4\]/);
      expect(() => f.call(randn([1, 5, 4, 4]), randn([1, 5, 4, 4]))).toThrow(/^AFNB: expected high \[B, 6, H, W\]/);
      expect(() => f.call(randn([2, 5, 4, 4]), randn([1, 6, 4, 4]))).toThrow(/^AFNB: low \[2, 5, 4, 4\] and high \[1, 6, 4, 4\] have different batch sizes/);
      expect(() => c.call(randn([1, 5, 4, 4]), randn([1, 6, 4, 5]))).toThrow(/^CommonFusion: low \[1, 5, 4, 4\] and high \[1, 6, 4, 5\] must agree/);
      expect(() => r.call(randn([1, 6, 3, 4]))).toThrow(/^APNB: plain-random sampling needs n\^2 = 16 distinct positions, but the key map is only 3x4/);
      r.positions = tensor(new Int32Array(15), [1, 15]);
      expect(() => r.call(randn([1, 6, 5, 5]))).toThrow(/^APNB: positions must be int32 \[1, 16\] \(batch x anchors\), got int32 \[1, 15\]/);
      r.positions = null;
    });
  });

  it('AFNB takes low and high of different sizes, as the official code (keys from low, output at high)', () => {
    using f = new nn.AFNB({ ...afnb, seed: 1 });
    f.eval();
    const y = noGrad(() => tidy(() => f.call(randn([1, 5, 9, 11]), randn([1, 6, 4, 5]))));
    expect(y.shape).toEqual([1, 6, 4, 5]);
    y.dispose();
  });
});
