// Devices: the default device (ANN_SEG_DEVICE), the `device` option, Tensor.to, Module.to and the
// errors for what a build cannot do. Each test asserts what this build must do: a build without
// CUDA gives the one clear error, a build with it (real or emulated) copies exactly.
import { afterEach, describe, expect, it } from 'vitest';

import { defaultDevice, F, native, nn, optim, tensor, tidy, zeros, type Device } from '../lib/index.js';
import { commonDevice, parseDevice } from '../lib/device.js';
import { nativeFromArray } from '../lib/tensor.js';

const cudaInfo = native.info().cuda;
const hasCuda = !cudaInfo.startsWith('unavailable');
const UNAVAILABLE = /cuda: unavailable \(/;

const saved = process.env.ANN_SEG_DEVICE;
afterEach(() => {
  if (saved === undefined) delete process.env.ANN_SEG_DEVICE;
  else process.env.ANN_SEG_DEVICE = saved;
});

describe('the default device', () => {
  it("is 'cpu' without ANN_SEG_DEVICE, else the variable's device", () => {
    delete process.env.ANN_SEG_DEVICE;
    expect(defaultDevice()).toBe('cpu');
    expect(tidy(() => tensor([1, 2]).device)).toBe('cpu');
    process.env.ANN_SEG_DEVICE = 'cpu';
    expect(tidy(() => zeros([2]).device)).toBe('cpu');
    process.env.ANN_SEG_DEVICE = 'cuda';
    expect(defaultDevice()).toBe('cuda');
  });

  it('ANN_SEG_DEVICE=cuda makes tensors on CUDA, or fails with the reason CUDA is unavailable', () => {
    process.env.ANN_SEG_DEVICE = 'cuda';
    if (hasCuda) {
      const t = tensor([1, 2, 3]);
      expect(t.device).toBe('cuda');
      expect(Array.from(t.toFloat32Array())).toEqual([1, 2, 3]);
      t.dispose();
    } else {
      expect(() => tensor([1, 2, 3])).toThrow('fromArray: cuda: unavailable (this build has no CUDA backend)');
      expect(() => zeros([2])).toThrow('full: cuda: unavailable (this build has no CUDA backend)');
      expect(() => new nn.Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1 })).toThrow(UNAVAILABLE);
      expect(() => nativeFromArray(new Float32Array(2), [2])).toThrow('fromArray: cuda: unavailable');
    }
  });

  it('a bad ANN_SEG_DEVICE is an error naming the variable and the value', () => {
    process.env.ANN_SEG_DEVICE = 'gpu';
    expect(() => tensor([1])).toThrow(`ANN_SEG_DEVICE: unknown device "gpu" (expected 'cpu' or 'cuda')`);
    process.env.ANN_SEG_DEVICE = 'CUDA';
    expect(() => defaultDevice()).toThrow(/ANN_SEG_DEVICE: unknown device "CUDA"/);
  });
});

describe('device arguments', () => {
  it('a bad device string is an error naming the op and the value', () => {
    const bad = 'tpu' as Device;
    expect(() => tensor([1], undefined, { device: bad })).toThrow(`tensor: unknown device "tpu" (expected 'cpu' or 'cuda')`);
    expect(() => zeros([1], { device: bad })).toThrow(/^full: unknown device "tpu"/);
    expect(() => parseDevice('to', 0)).toThrow(/^to: unknown device 0/);
    const t = tensor([1, 2]);
    expect(() => t.to(bad)).toThrow(/^to: unknown device "tpu"/);
    expect(() => t.native.to(bad)).toThrow("to: unknown device 'tpu' (expected 'cpu' or 'cuda')");
    expect(() => native.full([1], 0, 'float32', bad)).toThrow("full: unknown device 'tpu' (expected 'cpu' or 'cuda')");
    expect(() => native.empty([1], 'float32', bad)).toThrow(/^empty: unknown device 'tpu'/);
    expect(() => native.fromArray(new Float32Array(1), [1], bad)).toThrow(/^fromArray: unknown device 'tpu'/);
    expect(() => native.samplePositions({ height: 4, width: 4, device: bad })).toThrow(/^samplePositions: unknown device 'tpu'/);
    const m = new nn.ReLU();
    expect(() => m.to(bad)).toThrow(/^ReLU\.to: unknown device "tpu"/);
    t.dispose();
  });

  it("native creation without a device is on the CPU, whatever ANN_SEG_DEVICE says (lib/tensor.ts applies it)", () => {
    process.env.ANN_SEG_DEVICE = 'cuda';
    const t = native.full([2], 1);
    expect(t.device).toBe('cpu');
    t.dispose();
  });
});

describe('Tensor.to', () => {
  it('returns the tensor itself when it is already on the device, as PyTorch', () => {
    const t = tensor([1, 2]);
    expect(t.to('cpu')).toBe(t);
    t.dispose();
  });

  it('copies to CUDA and back exactly, gradients included, or says CUDA is unavailable', () => {
    const data = new Float32Array([1.5, -2, Number.NaN, Infinity, 3e-39, 7]);
    const t = tensor(data, [2, 3], { requiresGrad: true });
    if (!hasCuda) {
      expect(() => t.to('cuda')).toThrow('to: cuda: unavailable (this build has no CUDA backend)');
      expect(() => native.full([2], 1, 'float32', 'cuda')).toThrow('full: cuda: unavailable (this build has no CUDA backend)');
      expect(() => native.empty([2], 'int32', 'cuda')).toThrow('empty: cuda: unavailable');
      expect(() => native.samplePositions({ height: 4, width: 4, device: 'cuda' })).toThrow('samplePositions: cuda: unavailable');
      t.dispose();
      return;
    }
    const g = tidy(() => {
      const c = t.to('cuda');
      expect(c.device).toBe('cuda');
      expect(c.to('cuda')).toBe(c);
      const back = c.to('cpu');
      expect(Array.from(back.toFloat32Array())).toEqual(Array.from(data));
      F.sum(F.scale(c, 2)).backward();
      return t.grad!;
    });
    expect(g.device).toBe('cpu');
    expect(Array.from(g.toFloat32Array())).toEqual([2, 2, 2, 2, 2, 2]);
    const i = native.fromArray(new Int32Array([3, -1, 2147483647]), [3], 'cuda');
    expect(Array.from(i.toArray())).toEqual([3, -1, 2147483647]);
    expect(Array.from(native.full([3], -5, 'int32', 'cuda').toArray())).toEqual([-5, -5, -5]);
    expect(Array.from(i.clone().toArray())).toEqual([3, -1, 2147483647]);
    expect(i.reshape([1, 3]).device).toBe('cuda');
    i.dispose();
    t.dispose();
  });

  it('an op on tensors of two devices is an error naming both (natively and in TypeScript ops)', () => {
    expect(() => commonDevice('matmul', [{ device: 'cpu' }, { device: 'cuda' }])).toThrow(
      'matmul: tensors on different devices (cpu and cuda)',
    );
    expect(commonDevice('matmul', [{ device: 'cpu' }, { device: 'cpu' }])).toBe('cpu');
    if (!hasCuda) return;
    const a = tensor([1, 2]);
    const b = a.to('cuda');
    expect(() => native.add(a.native, b.native)).toThrow('add: tensors on different devices (cpu and cuda)');
    expect(() => F.matmul(a.reshape([1, 2]), b.reshape([2, 1]))).toThrow('matmul: tensors on different devices (cpu and cuda)');
    a.dispose();
    b.dispose();
  });
});

describe('Module.to', () => {
  it("keeps every Parameter and buffer object, as PyTorch's module.to", () => {
    const net = new nn.Sequential(new nn.Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 1 }), new nn.BatchNorm2d(3));
    const params = net.parameters();
    const buffers = net.buffers();
    const values = params.map((p) => Array.from(p.toFloat32Array()));
    expect(net.to('cpu')).toBe(net);
    expect(net.parameters()).toEqual(params);
    net.parameters().forEach((p, i) => expect(p).toBe(params[i]));
    net.buffers().forEach((b, i) => expect(b).toBe(buffers[i]));
    if (hasCuda) {
      const sgd = new optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
      net.to('cuda');
      net.parameters().forEach((p, i) => {
        expect(p).toBe(params[i]);
        expect(p.device).toBe('cuda');
        expect(Array.from(p.toFloat32Array())).toEqual(values[i]);
      });
      for (const b of net.buffers()) expect(b.device).toBe('cuda');
      tidy(() => {
        const y = net.call(tensor(new Float32Array(2 * 2 * 2 * 2).fill(1), [2, 2, 2, 2], { device: 'cuda' }));
        F.sum(y).backward();
      });
      sgd.step();
      for (const b of sgd.stateDict().momentumBuffers) expect(b?.device).toBe('cuda');
      net.to('cpu');
      for (const p of net.parameters()) expect(p.device).toBe('cpu');
      expect(net.parameters()[0].grad?.device).toBe('cpu');
      sgd.dispose();
    } else {
      expect(() => net.to('cuda')).toThrow('to: cuda: unavailable (this build has no CUDA backend)');
      // A failed move leaves the module where it was.
      for (const p of net.parameters()) expect(p.device).toBe('cpu');
    }
    net.dispose();
  });
});

describe('native info', () => {
  it('reports the CUDA backend, or why it is unavailable', () => {
    if (hasCuda) {
      expect(cudaInfo.length).toBeGreaterThan(0);
      expect(Array.isArray(native.info().cudaKernelsMissing)).toBe(true);
      expect(native.memory().cuda).toBeDefined();
    } else {
      expect(cudaInfo).toMatch(/^unavailable \(.+\)$/);
      expect(native.memory().cuda).toBeUndefined();
    }
  });
});
