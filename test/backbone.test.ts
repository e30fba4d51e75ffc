// nn.DilatedResNet against the official key list and against PyTorch (test/reference/backbone.py):
// eval and train outputs, every parameter's and the input's gradient, running statistics.

import { afterAll, describe, expect, it } from 'vitest';

import { F, memory, nn, noGrad, tensor, tidy, type Tensor } from '../lib/index.js';
import { checkParity, Fixture } from './helpers/parity.js';
import { officialStateDict } from './helpers/official.js';


const configs = ['r18', 'r50'] as const;
const fixtures = Object.fromEntries(configs.map((name) => [name, { fx: new Fixture(`backbone_${name}`), grads: new Fixture(`backbone_${name}_grads`) }]));
afterAll(() => {
  for (const { fx, grads } of Object.values(fixtures)) {
    fx.dispose();
    grads.dispose();
  }
});

function meta(name: string) {
  const m = fixtures[name].fx.metadata;
  return {
    depth: Number(m.depth) as nn.ResNetDepth,
    width: Number(m.width),
    keys: JSON.parse(m.state_dict_keys) as string[],
    params: JSON.parse(m.parameter_names) as string[],
    channels: JSON.parse(m.stage_channels) as [number, number],
  };
}

/** [key, shape] of every state-dict entry, in order. */
const shapesOf = (net: nn.Module<[Tensor], unknown>) => Object.entries(net.stateDict()).map(([k, t]) => [k, t.shape]);

function input(fx: Fixture, key: string, requiresGrad = false): Tensor {
  const r = fx.raw(key);
  return tensor(r.data as Float32Array, r.shape, { requiresGrad });
}

/** A DilatedResNet holding the fixture's PyTorch state_dict, loaded strictly. */
function loaded(name: string): nn.DilatedResNet {
  const { fx } = fixtures[name];
  const { depth, width } = meta(name);
  const net = new nn.DilatedResNet({ depth, width, seed: 1 });
  const dict: Record<string, Tensor> = {};
  for (const [key, r] of fx.tensors)
    if (key.startsWith('state.'))
      dict[key.slice(6)] = r.data instanceof BigInt64Array ? tensor(Int32Array.from(r.data, Number), r.shape) : tensor(r.data as Float32Array, r.shape);
  try {
    expect(net.loadStateDict(dict, { strict: true })).toEqual({ missingKeys: [], unexpectedKeys: [] });
  } finally {
    for (const t of Object.values(dict)) t.dispose();
  }
  return net;
}

describe('nn.DilatedResNet structure', () => {
  it('depth 101 at width 1 has exactly the official backbone keys and shapes', () => {
    const official = officialStateDict('backbone.');
    expect(official).toHaveLength(636);
    using net = new nn.DilatedResNet({ depth: 101, seed: 0 });
    expect(shapesOf(net)).toEqual(official);
    expect([net.stage4Channels, net.stage5Channels]).toEqual([1024, 2048]);
    expect(net.layer3.length).toBe(23);
    // Dilation: layer3 is 1 in block 0 and 2 after; layer4 is 2, then 4; strides on the 3x3 conv.
    const conv2 = (layer: nn.Sequential, i: number) => (layer.at(i) as nn.Bottleneck).conv2;
    expect([conv2(net.layer3, 0).dilation, conv2(net.layer3, 1).dilation, conv2(net.layer4, 0).dilation, conv2(net.layer4, 2).dilation])
      .toEqual([[1, 1], [2, 2], [2, 2], [4, 4]]);
    expect([conv2(net.layer2, 0).stride, conv2(net.layer3, 0).stride, (net.layer2.at(0) as nn.Bottleneck).conv1.stride])
      .toEqual([[2, 2], [1, 1], [1, 1]]);
  });

  it("the small configurations have PyTorch's keys, parameter order and stage channels", () => {
    for (const name of configs) {
      const { depth, width, keys, params, channels } = meta(name);
      using net = new nn.DilatedResNet({ depth, width });
      expect(Object.keys(net.stateDict()), name).toEqual(keys);
      expect(net.namedParameters().map(([n]) => n), name).toEqual(params);
      expect([net.stage4Channels, net.stage5Channels], name).toEqual(channels);
    }
  });

  it('width scales every channel count by the rounding rule, as the PyTorch reference', () => {
    const configsWithShapes = JSON.parse(fixtures.r18.fx.metadata.shapes) as { depth: nn.ResNetDepth; width: number; keys: [string, number[]][] }[];
    expect(configsWithShapes.map((c) => c.depth)).toEqual([34, 50, 152]);
    for (const { depth, width, keys } of configsWithShapes) {
      using net = new nn.DilatedResNet({ depth, width });
      expect(shapesOf(net), `depth ${depth} width ${width}`).toEqual(keys);
    }
    expect([nn.scaleChannels(64, 0.1), nn.scaleChannels(128, 0.1), nn.scaleChannels(64, 0.0078125), nn.scaleChannels(512, 0.001)]).toEqual([6, 13, 1, 1]);
  });

  it('one seed fixes every weight; different seeds differ', () => {
    const weights = (seed: number) => {
      using net = new nn.DilatedResNet({ depth: 18, width: 1 / 16, seed });
      return net.parameters().map((p) => p.toFloat32Array());
    };
    const [a, b, c] = [weights(3), weights(3), weights(4)];
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(c[0]);
    expect(a.at(-3)).not.toEqual(c.at(-3));
  });

  it('refuses unsupported depths, bad widths and seeds, and inputs it cannot take', () => {
    expect(() => new nn.DilatedResNet({ depth: 26 as nn.ResNetDepth })).toThrow(/DilatedResNet: unsupported depth 26 \(supported: 18, 34, 50, 101, 152\)/);
    expect(() => new nn.DilatedResNet({ depth: '50' as unknown as nn.ResNetDepth })).toThrow(/unsupported depth 50/);
    for (const width of [0, -1, Number.NaN, Infinity])
      expect(() => new nn.DilatedResNet({ depth: 18, width })).toThrow(/DilatedResNet: width must be a positive number/);
    expect(() => new nn.DilatedResNet({ depth: 18, width: 1 / 32, seed: 0.5 })).toThrow(/DilatedResNet: seed must be an integer/);
    using net = new nn.DilatedResNet({ depth: 18, width: 1 / 32, seed: 2 });
    tidy(() => {
      expect(() => net.call(tensor(new Float32Array(4 * 16 * 16), [1, 4, 16, 16]))).toThrow(/DilatedResNet: expected an input \[B, 3, H, W\], got \[1,4,16,16\]/);
      expect(() => net.call(tensor(new Float32Array(3 * 16 * 16), [3, 16, 16]))).toThrow(/expected an input \[B, 3, H, W\], got \[3,16,16\]/);
      expect(() => net.call(tensor(new Float32Array(3 * 7 * 32), [1, 3, 7, 32]))).toThrow(/DilatedResNet: input \[1,3,7,32\] is smaller than the output stride 8/);
      expect(() => net.call(tensor(new Float32Array(3 * 32 * 5), [1, 3, 32, 5]))).toThrow(/smaller than the output stride 8/);
    });
  });

  it('output stride 8 with ceil-mode pooling: 64x128 -> 9x17 (floor mode would give 8x16)', () => {
    using net = new nn.DilatedResNet({ depth: 18, width: 1 / 32, seed: 2 });
    net.eval();
    noGrad(() =>
      tidy(() => {
        const { stage4, stage5 } = net.call(tensor(new Float32Array(3 * 64 * 128).fill(0.5), [1, 3, 64, 128]));
        expect(stage4.shape).toEqual([1, net.stage4Channels, 9, 17]);
        expect(stage5.shape).toEqual([1, net.stage5Channels, 9, 17]);
        const { stage5: tiny } = net.call(tensor(new Float32Array(3 * 8 * 8).fill(0.5), [1, 3, 8, 8]));
        expect(tiny.shape).toEqual([1, net.stage5Channels, 2, 2]);
      }),
    );
  });
});

describe.each(configs)('nn.DilatedResNet parity with PyTorch (%s)', (name) => {
  const { fx, grads } = fixtures[name];

  it('eval: stage4 and stage5', () => {
    using net = loaded(name);
    net.eval();
    tidy(() => {
      const { stage4, stage5 } = net.call(input(fx, 'x'));
      fx.expect('eval.stage4', stage4.native);
      fx.expect('eval.stage5', stage5.native);
    });
  });

  it('train: outputs, the input gradient, every parameter gradient and the running statistics', () => {
    using net = loaded(name);
    net.train();
    tidy(() => {
      const x = input(fx, 'x', true);
      const { stage4, stage5 } = net.call(x);
      fx.expect('train.stage4', stage4.native);
      fx.expect('train.stage5', stage5.native);
      F.add(F.sum(F.mul(stage4, input(fx, 'train.dy4'))), F.sum(F.mul(stage5, input(fx, 'train.dy5')))).backward();
      grads.expectBothPaths('grad.x', x.grad!.native);
      // The stored float32 results once summed two backward passes and accepted a zero gradient.
      const zeros = new Float32Array(x.grad!.size);
      const [truth, torch32, alt] = ['f64', 'f32', 'f32alt'].map((k) => grads.raw(`grad.x.${k}`).data as Float64Array | Float32Array);
      expect(() => checkParity('grad.x', zeros, truth, torch32, alt)).toThrow(/grad\.x: max error/);
      x.grad!.dispose(); // a leaf's grad outlives tidy, as a parameter's does
    });
    const named = net.namedParameters();
    expect(named.map(([n]) => n)).toEqual(meta(name).params);
    for (const [pname, p] of named) {
      // Its one-element mutation is judged against the gradient's rounding scale (backbone.py).
      expect(grads.shape(`grad.${pname}.scale`), `grad.${pname}.scale`).toEqual(p.shape);
      grads.expectBothPaths(`grad.${pname}`, p.grad!.native);
    }
    let counted = 0;
    for (const [key, t] of Object.entries(net.stateDict()))
      if (/running_(mean|var)$/.test(key)) fx.expect(`after.${key}`, t.native);
      else if (key.endsWith('num_batches_tracked')) {
        expect(t.item(), key).toBe(6); // 5 loaded + this forward
        counted++;
      }
    expect(counted).toBe(meta(name).keys.filter((k) => k.endsWith('num_batches_tracked')).length);
  });

  it('memory returns to its baseline after forward and backward; dispose frees the network', () => {
    const before = memory().numTensors;
    const net = loaded(name);
    const baseline = memory().numTensors;
    for (const mode of [true, false]) {
      net.train(mode);
      tidy(() => {
        const x = input(fx, 'x', true);
        const { stage4, stage5 } = net.call(x);
        F.add(F.sum(F.mul(stage4, input(fx, 'train.dy4'))), F.sum(F.mul(stage5, input(fx, 'train.dy5')))).backward();
        x.grad!.dispose(); // a leaf's grad outlives tidy, as a parameter's does
      });
      net.zeroGrad();
      expect(memory().numTensors, `training=${mode}`).toBe(baseline);
    }
    net.dispose();
    expect(memory().numTensors).toBe(before);
  });
});
