// models.ANN: parity with the PyTorch network of test/reference/ann_model.py (eval and training
// outputs, the blocks' intermediates, the three losses, every gradient, the SGD steps), the
// official depth-101 key list and checkpoint loading, every Table 6 preset, config and bad input.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { F, io, memory, models, nn, noGrad, optim, randn, tensor, tidy, Tensor } from '../lib/index.js';
import { checkParityLogged, Fixture } from './helpers/parity.js';
import { officialStateDict } from './helpers/official.js';

const dir = mkdtempSync(join(tmpdir(), 'ann-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small configuration for the preset and memory tests. */
const SMALL: models.ANNConfig = { depth: 18, width: 0.0625, numClasses: 5, keyChannels: 4, valueChannels: 6, contextChannels: 8, auxChannels: 8 };

const TRACE_KEYS = ['query', 'key', 'value', 'context', 'out'] as const;

function disposeTrace(trace: Record<string, Tensor> | null): void {
  for (const t of Object.values(trace ?? {})) t.dispose();
}

/**
 * What each fixture checks beyond the common keys (test/reference/ann_model.py splits them to keep
 * each file small): the upsampled rows, the attention weights, and the traces it leaves out.
 */
const PARTS: Record<'r18' | 'r50', { top: ('aux' | 'main')[]; weights: string[]; skip: string[]; sgdSteps: number }> = {
  r18: { top: ['main'], weights: ['context'], skip: [], sgdSteps: 3 },
  r50: { top: ['aux'], weights: ['fusion'], skip: ['fusion.out'], sgdSteps: 1 },
};

describe.each(['r18', 'r50'] as const)('ANN parity with PyTorch (%s, the full network at a small width)', (tag) => {
  const fx = new Fixture(`ann_model_${tag}`);
  const gx = new Fixture(`ann_model_${tag}_grads`);
  const meta = fx.metadata;
  const config = JSON.parse(meta.config) as models.ANNConfig;
  const minKept = Number(meta.min_kept);
  afterAll(() => {
    fx.dispose();
    gx.dispose();
  });

  function loaded(): models.ANNModel {
    const model = models.ANN(config);
    const state: Record<string, Tensor> = {};
    for (const key of fx.tensors.keys()) if (key.startsWith('state.')) state[key.slice(6)] = new Tensor(fx.input(key));
    expect(model.loadStateDict(state, { strict: true })).toEqual({ missingKeys: [], unexpectedKeys: [] });
    return model;
  }
  const x = () => new Tensor(fx.input('x'));
  const y = () => new Tensor(fx.input('y'));

  it('the fixture holds exactly the checks this test expects (nothing skipped silently)', () => {
    const parts = PARTS[tag];
    for (const name of ['aux', 'main']) expect(fx.has(`eval.${name}.top.f64`), `eval.${name}.top`).toBe(parts.top.includes(name as 'aux' | 'main'));
    for (const block of ['fusion', 'context']) {
      expect(fx.has(`eval.${block}.weights0.f64`), `eval.${block}.weights0`).toBe(parts.weights.includes(block));
      for (const key of TRACE_KEYS) expect(fx.has(`eval.${block}.${key}.f64`), `eval.${block}.${key}`).toBe(!parts.skip.includes(`${block}.${key}`));
    }
    expect(Number(meta.sgd_steps)).toBe(parts.sgdSteps);
    // Every SGD step's gradient was taken where no kink is within float32 noise (ann_model.py, kinks.py).
    expect(JSON.parse(meta.kink_margins_kept ?? '[]'), 'kink_margins_kept').toEqual(Array.from({ length: parts.sgdSteps }, (_, i) => i + 1));
    expect(gx.shape('sgd.loss.f64')).toEqual([parts.sgdSteps]);
    for (const name of JSON.parse(gx.metadata.parameter_names) as string[]) {
      expect(gx.has(`grad.${name}.f32alt`), name).toBe(true);
      expect(gx.shape(`grad.${name}.scale`), `${name} scale`).toEqual(gx.shape(`grad.${name}.f64`));
    }
  });

  it("has the reference's parameters, in named_parameters order", () => {
    using model = models.ANN(config);
    expect(model.namedParameters().map(([n]) => n)).toEqual(JSON.parse(gx.metadata.parameter_names));
  });

  it('eval: logits, upsampled rows and the blocks’ query/key/value/weights/context/out', () => {
    using model = loaded();
    model.eval();
    const fusion = model.fusion as nn.AFNB;
    const context = model.contextBlock as nn.APNB;
    fusion.trace = {};
    context.trace = {};
    tidy(() => {
      const input = x();
      const low = model.forwardLogits(input);
      fx.expect('eval.aux.low', low.aux.native);
      fx.expect('eval.main.low', low.main.native);
      const up = model.forward(input);
      const parts = PARTS[tag];
      for (const name of parts.top) fx.expect(`eval.${name}.top`, F.narrow(F.narrow(up[name], 0, 0, 1), 2, 0, 9).native);
      for (const [block, trace] of [['fusion', fusion.trace!], ['context', context.trace!]] as const) {
        for (const key of TRACE_KEYS) if (!parts.skip.includes(`${block}.${key}`)) fx.expect(`eval.${block}.${key}`, trace[key].native);
        if (parts.weights.includes(block)) {
          const [, n, s] = trace.weights.shape;
          fx.expect(`eval.${block}.weights0`, F.reshape(F.narrow(trace.weights, 0, 0, 1), [n, s]).native);
        }
      }
    });
    disposeTrace(fusion.trace);
    disposeTrace(context.trace);
  });

  it('training: logits, pooled key/value, running statistics, three losses, every gradient, the SGD steps', () => {
    using model = loaded();
    model.train();
    const fusion = model.fusion as nn.AFNB;
    const context = model.contextBlock as nn.APNB;
    const input = x();
    const target = y();
    // Two training forwards, as the reference: the running statistics move twice.
    fusion.trace = {};
    context.trace = {};
    tidy(() => {
      const low = model.forwardLogits(input);
      fx.expect('train.aux.low', low.aux.native);
      fx.expect('train.main.low', low.main.native);
    });
    for (const [block, trace] of [['fusion', fusion.trace], ['context', context.trace]] as const) {
      fx.expect(`train.${block}.key`, trace.key.native);
      fx.expect(`train.${block}.value`, trace.value.native);
      disposeTrace(trace);
    }
    fusion.trace = null;
    context.trace = null;
    const loss = tidy(() => {
      const out = model.forward(input);
      fx.expect('train.loss.ohem_thresh', models.annLoss(out, target, { minKept: Number(meta.min_kept_thresh) }).native);
      fx.expect('train.loss.ce', models.annLoss(out, target, { ohem: false }).native);
      const weight = new Tensor(fx.input('class_weight'));
      fx.expect('train.loss.ohem_weighted', models.annLoss(out, target, { minKept, weight }).native);
      return models.annLoss(out, target, { minKept });
    });
    fx.expect('train.loss.ohem', loss.native);
    for (const [key, value] of Object.entries(model.stateDict())) {
      if (key.includes('running')) fx.expect(`train.after.${key}`, value.native);
      else if (key.endsWith('num_batches_tracked')) expect(value.item(), key).toBe(fx.numbers(`train.after.${key}`)[0]);
    }

    loss.backward();
    loss.dispose();
    for (const [name, p] of model.namedParameters()) gx.expectBothPaths(`grad.${name}`, p.grad!.native);

    const opt = new optim.SGD(model.parameters(), { lr: Number(meta.lr), momentum: Number(meta.momentum), weightDecay: Number(meta.weight_decay) });
    opt.step();
    const steps = PARTS[tag].sgdSteps;
    const losses = new Float32Array(steps);
    for (let step = 0; step < steps; step++) {
      const l = tidy(() => models.annLoss(model.forward(input), target, { minKept }));
      losses[step] = l.item();
      if (step < steps - 1) {
        opt.zeroGrad();
        l.backward();
        opt.step();
      }
      l.dispose();
    }
    const truth = gx.raw('sgd.loss.f64').data as Float64Array;
    const sgd = checkParityLogged(`${tag} loss after each SGD step`, losses, truth, gx.raw('sgd.loss.f32').data as Float32Array);
    // The fixture is conditioned so that this check is tight (ann_model.py: the SGD steps).
    if (!Number.isNaN(sgd.allowed)) expect(sgd.allowed / Math.max(...Array.from(truth, Math.abs))).toBeLessThan(1e-4);
    opt.zeroGrad();
    opt.dispose();
    input.dispose();
    target.dispose();
  });
});

const officialKeys = (): [string, number[]][] => officialStateDict();

describe('the official depth-101 network', () => {
  // One model for the tests below: 68M parameters take a few seconds to initialise.
  const model = models.ANN({ depth: 101, numClasses: 19, seed: 0 });
  afterAll(() => model.dispose());

  it('has exactly the official state_dict keys and shapes, in order', () => {
    const ours = Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape]);
    expect(ours).toEqual(officialKeys());
  });

  it('has the official parameter count (f_query shared with f_key in APNB)', () => {
    const official = officialKeys()
      .filter(([k]) => !/running_|num_batches_tracked/.test(k) && !k.startsWith('context.2.stages.0.f_query'))
      .reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
    expect(models.parameterCounts(model).total).toBe(official);
  });

  it("loads a checkpoint with the official keys, every key prefixed 'module.', strictly", () => {
    const path = join(dir, 'official.safetensors');
    const dict = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [`module.${k}`, t]));
    io.writeSafetensors(path, dict);
    using fresh = models.loadANNCheckpoint(path);
    const probe = 'context.2.stages.0.W.weight';
    expect(fresh.stateDict()[probe].toFloat32Array()).toEqual(model.stateDict()[probe].toFloat32Array());
    expect(fresh.stateDict()['backbone.layer3.22.bn3.num_batches_tracked'].dtype).toBe('int32');
    rmSync(path);
  });
});

describe('checkpoints', () => {
  it('saveCheckpoint/loadCheckpoint rebuild the model from the config in the metadata', () => {
    const path = join(dir, 'small.safetensors');
    using model = models.ANN({ ...SMALL, variant: 'fnb+nb', seed: 3 });
    models.saveCheckpoint(path, model, { epoch: '4' });
    expect(io.readSafetensorsMetadata(path).epoch).toBe('4');
    using back = models.loadCheckpoint(path);
    expect(back.config).toEqual(model.config);
    const [k, t] = Object.entries(model.stateDict())[10];
    expect(back.stateDict()[k].toFloat32Array()).toEqual(t.toFloat32Array());
    using same = models.ANN({ ...SMALL, variant: 'fnb+nb' });
    expect(models.loadCheckpoint(path, { model: same })).toBe(same);
  });

  it('refuses a checkpoint for another config, and a file without a config', () => {
    const path = join(dir, 'other.safetensors');
    using model = models.ANN({ ...SMALL, variant: 'apnb' });
    models.saveCheckpoint(path, model);
    using full = models.ANN(SMALL);
    expect(() => models.loadCheckpoint(path, { model: full })).toThrow(/another ANN config.*variant: "apnb" vs "full"/);
    const bare = join(dir, 'bare.safetensors');
    io.writeSafetensors(bare, model.stateDict());
    expect(() => models.loadCheckpoint(bare)).toThrow(/holds no ANN config.*loadANNCheckpoint/);
    expect(() => models.loadANNCheckpoint(bare, SMALL)).toThrow(/Missing key\(s\).*fusion/s);
    expect(() => models.saveCheckpoint(path, model, { 'ann-seg.config': '{}' })).toThrow(/reserved/);
  });

  it("model.loadStateDict takes an official dict with every key prefixed 'module.' strictly", () => {
    using source = models.ANN({ ...SMALL, seed: 5 });
    using target = models.ANN({ ...SMALL, seed: 6 });
    const prefixed = Object.fromEntries(Object.entries(source.stateDict()).map(([k, t]) => [`module.${k}`, t]));
    target.loadStateDict(prefixed, { strict: true });
    const [k, t] = Object.entries(source.stateDict())[3];
    expect(target.stateDict()[k].toFloat32Array()).toEqual(t.toFloat32Array());
  });

  it('stripModulePrefix removes the prefix only when every key has it', () => {
    const t = tensor([1]);
    expect(Object.keys(models.stripModulePrefix({ 'module.a': t, 'module.b.c': t }))).toEqual(['a', 'b.c']);
    expect(Object.keys(models.stripModulePrefix({ 'module.a': t, b: t }))).toEqual(['module.a', 'b']);
    t.dispose();
  });
});

describe('Table 6 presets', () => {
  it.each(models.VARIANTS)('%s builds, runs forward and backward in tidy, and memory returns to baseline', (variant) => {
    using model = models.ANN({ ...SMALL, variant, seed: 1 });
    const x = randn([2, 3, 33, 41]);
    const y = tensor(Int32Array.from({ length: 2 * 33 * 41 }, (_, i) => (i % 7 === 0 ? 255 : i % 5)), [2, 33, 41]);
    model.train();
    const base = memory().numTensors;
    const value = tidy(() => {
      const out = model.forward(x);
      expect(out.main.shape).toEqual([2, 5, 33, 41]);
      expect(out.aux.shape).toEqual([2, 5, 33, 41]);
      const loss = models.annLoss(out, y, { minKept: 1000 });
      loss.backward();
      return loss.item();
    });
    expect(Number.isFinite(value)).toBe(true);
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    model.zeroGrad();
    expect(memory().numTensors).toBe(base);
    x.dispose();
    y.dispose();
  });

  it('has the parts of its row: fusion and context blocks by variant', () => {
    const kinds = (v: models.ANNVariant) => {
      using m = models.ANN({ ...SMALL, variant: v });
      return [m.fusion?.typeName ?? null, m.contextBlock?.typeName ?? null];
    };
    expect(kinds('baseline')).toEqual([null, null]);
    expect(kinds('nb')).toEqual([null, 'NonLocal']);
    expect(kinds('common-fusion+nb')).toEqual(['CommonFusion', 'NonLocal']);
    expect(kinds('fnb')).toEqual(['FusionNonLocal', null]);
    expect(kinds('full')).toEqual(['AFNB', 'APNB']);
  });

  it.each(models.SAMPLINGS)('sampling %s (Table 7) runs in the full model', (sampling) => {
    const sizes = sampling.startsWith('plain') ? [3] : [1, 2, 3];
    using model = models.ANN({ ...SMALL, sampling, sizes, seed: 2 });
    model.eval();
    const base = memory().numTensors;
    noGrad(() =>
      tidy(() => {
        const out = model.forward(randn([1, 3, 40, 48]));
        expect(out.main.shape).toEqual([1, 5, 40, 48]);
      }),
    );
    expect(memory().numTensors).toBe(base);
  });
});

describe('config', () => {
  it('fills the official defaults and round-trips through JSON', () => {
    using model = models.ANN({ depth: 18, width: 0.0625 });
    expect(model.config).toEqual({ ...models.DEFAULT_CONFIG, depth: 18, width: 0.0625 });
    const again = JSON.parse(JSON.stringify(model.config)) as models.ANNConfig;
    using twin = models.ANN({ ...again, seed: 9 });
    expect(models.configDifferences(twin.config, model.config)).toEqual([]);
    expect(twin.config.seed).toBe(9);
    expect(Object.keys(twin.stateDict())).toEqual(Object.keys(model.stateDict()));
  });

  it('the same seed gives the same initial weights', () => {
    using a = models.ANN({ ...SMALL, seed: 5 });
    using b = models.ANN({ ...SMALL, seed: 5 });
    for (const [k, t] of Object.entries(a.stateDict())) expect(b.stateDict()[k].native.toArray(), k).toEqual(t.native.toArray());
  });

  it('rejects bad configs with the field named', () => {
    const bad: [unknown, RegExp][] = [
      [{ variant: 'apnb+nb' }, /variant must be one of.*"apnb+/],
      [{ depth: 42 }, /depth must be one of 18, 34, 50, 101, 152, got 42/],
      [{ numClasses: 0 }, /numClasses must be a positive integer, got 0/],
      [{ width: -1 }, /width must be a positive number/],
      [{ sizes: [] }, /sizes must be a non-empty list/],
      [{ sizes: [1, 0] }, /sizes must be a non-empty list of positive integers/],
      [{ sampling: 'plain-avg', sizes: [1, 3] }, /sampling 'plain-avg' takes one size/],
      [{ sampling: 'pyramid' }, /sampling must be one of/],
      [{ dropout: 1.5 }, /dropout must be a number in \[0, 1\)/],
      [{ classes: 19 }, /unknown field 'classes'/],
      [{ layout: 'mmseg' }, /layout must be one of "official"/],
      [{ seed: 1.5 }, /seed must be a non-negative integer/],
      [null, /expected an object/],
    ];
    for (const [config, message] of bad) expect(() => models.ANN(config as models.ANNConfig), JSON.stringify(config)).toThrow(message);
  });
});

describe('bad input', () => {
  const model = models.ANN({ ...SMALL, seed: 4 });
  model.eval();

  it('an input smaller than the stride, or not [B, 3, H, W], names the shapes', () => {
    tidy(() => {
      expect(() => model.forward(randn([1, 3, 7, 40]))).toThrow(/input \[1,3,7,40\] is smaller than the network's output stride 8/);
      expect(() => model.forward(randn([1, 4, 16, 16]))).toThrow(/must have 3 channels.*got 4/);
      expect(() => model.forward(randn([3, 16, 16]))).toThrow(/must be 4-D/);
    });
  });

  it('labels out of range, of the wrong shape or dtype, and unknown loss options', () => {
    tidy(() => {
      const out = model.forward(randn([1, 3, 16, 16]));
      const bad = tensor(Int32Array.from({ length: 256 }, (_, i) => (i === 17 ? 9 : i % 5)), [1, 16, 16]);
      expect(() => models.annLoss(out, bad)).toThrow(/target\[0,1,1\] = 9 is not a class in \[0, 5\) nor ignoreIndex \(255\)/);
      expect(() => models.annLoss(out, tensor(new Int32Array(64), [1, 8, 8]))).toThrow(/annLoss: target \[1,8,8\].*\[1,16,16\]/);
      expect(() => models.annLoss(out, F.reshape(randn([256]), [1, 16, 16]))).toThrow(/must be int32/);
      expect(() => models.annLoss(out, tensor(new Int32Array(256), [1, 16, 16]), { min_kept: 5 } as models.ANNLossOptions)).toThrow(
        /unknown option 'min_kept'/,
      );
    });
  });

  afterAll(() => model.dispose());
});
