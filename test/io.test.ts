import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { io, memory, tensor, tidy, zeros } from '../lib/index.js';
import { packageRoot } from '../lib/native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ann-io-'));
const fixture = join(packageRoot(), 'test', 'fixtures', 'nn_state_dict.safetensors');

/** Parses a file by the format's specification alone, independently of lib/io. */
function parseBySpec(path: string) {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = bytes.subarray(8 + n);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { bytes, n, header, data, view };
}

describe('io.writeSafetensors', () => {
  it('writes the safetensors layout: u64 LE header size, padded JSON header, packed little-endian data', () => {
    const path = join(dir, 'spec.safetensors');
    tidy(() =>
      io.writeSafetensors(
        path,
        {
          'b.weight': tensor([1.5, -2, 3.25, 1e-30, -0, 7], [2, 3]),
          'a.count': tensor(new Int32Array([-3]), []),
          'c.empty': zeros([0, 4]),
        },
        { format: 'pt' },
      ),
    );
    const { bytes, n, header, data, view } = parseBySpec(path);
    expect((8 + n) % 8).toBe(0);
    expect(bytes.subarray(8, 8 + n).toString('utf8')).toMatch(/^\{.*\} *$/);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    // Sorted keys, contiguous ranges from 0, covering every data byte.
    expect(header['a.count']).toEqual({ dtype: 'I32', shape: [], data_offsets: [0, 4] });
    expect(header['b.weight']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [4, 28] });
    expect(header['c.empty']).toEqual({ dtype: 'F32', shape: [0, 4], data_offsets: [28, 28] });
    expect(data.length).toBe(28);
    expect(view.getInt32(0, true)).toBe(-3);
    const values = [0, 1, 2, 3, 4, 5].map((i) => view.getFloat32(4 + 4 * i, true));
    expect(values).toEqual([1.5, -2, 3.25, Math.fround(1e-30), -0, 7]);
  });

  it('is atomic: replaces a file whole, leaves no temporary file, and leaves the old file on failure', () => {
    const path = join(dir, 'atomic.safetensors');
    tidy(() => io.writeSafetensors(path, { x: tensor([1, 2, 3]) }));
    tidy(() => io.writeSafetensors(path, { y: tensor([4]) }));
    const before = readFileSync(path);
    expect(Object.keys(parseBySpec(path).header)).toEqual(['y']);
    const disposed = tensor([1]);
    disposed.dispose();
    expect(() => io.writeSafetensors(path, { z: disposed })).toThrow(/tensor 'z' was disposed/);
    expect(() => io.writeSafetensors(path, { z: [1, 2] as never })).toThrow(/value 'z' is not a Tensor/);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('io.readSafetensors', () => {
  it("reads a PyTorch state_dict converted by test/reference/convert_state_dict.py", () => {
    const before = memory().numTensors;
    tidy(() => {
      const dict = io.readSafetensors(fixture);
      expect(dict['features.0.0.weight'].shape).toEqual([8, 3, 3, 3]);
      expect(dict['features.0.0.weight'].dtype).toBe('float32');
      expect('features.0.0.bias' in dict).toBe(false);
      // torch stores num_batches_tracked as an int64 scalar: it arrives as an int32 scalar.
      expect(dict['features.1.1.num_batches_tracked'].dtype).toBe('int32');
      expect(dict['features.1.1.num_batches_tracked'].shape).toEqual([]);
      expect(dict['features.1.1.num_batches_tracked'].item()).toBe(3);
      expect(dict['f_query.1.0.num_batches_tracked'].item()).toBe(6);
      expect(dict['f_key.0.weight'].toFloat32Array()).toEqual(dict['f_query.0.weight'].toFloat32Array());
      const rv = dict['features.0.1.running_var'].toFloat32Array();
      expect(rv.every((v) => v > 0) && rv.some((v) => v !== 1)).toBe(true);
    });
    expect(memory().numTensors).toBe(before);
    expect(io.readSafetensorsMetadata(fixture)).toEqual({ format: 'pt', source: 'checkpoint.pth' });
  });

  it('converts F64 to float32 and I64, U8 to int32', () => {
    const path = join(dir, 'dtypes.safetensors');
    io.writeSafetensorsRaw(path, {
      f64: { shape: [3], data: new Float64Array([0.1, -2, 1e10]) },
      i64: { shape: [2, 1], data: new BigInt64Array([-5n, 2147483647n]) },
      u8: { shape: [2], data: new Uint8Array([0, 255]) },
    });
    tidy(() => {
      const d = io.readSafetensors(path);
      expect(d.f64.dtype).toBe('float32');
      expect(Array.from(d.f64.toFloat32Array())).toEqual([Math.fround(0.1), -2, 1e10]);
      expect(d.i64.dtype).toBe('int32');
      expect(d.i64.shape).toEqual([2, 1]);
      expect(Array.from(d.i64.toInt32Array())).toEqual([-5, 2147483647]);
      expect(Array.from(d.u8.toInt32Array())).toEqual([0, 255]);
    });
  });

  it('names the file (and the tensor) in every error', () => {
    const big = join(dir, 'big.safetensors');
    io.writeSafetensorsRaw(big, { n: { shape: [1], data: new BigInt64Array([1n << 40n]) } });
    expect(() => io.readSafetensors(big)).toThrow(`readSafetensors: ${big}: tensor 'n' holds the I64 value 1099511627776, outside int32's range`);
    const cut = join(dir, 'cut.safetensors');
    const whole = readFileSync(fixture);
    writeFileSync(cut, whole.subarray(0, whole.length - 10));
    expect(() => io.readSafetensors(cut)).toThrow(new RegExp(`readSafetensors: ${cut}: .*truncated`));
    const missing = join(dir, 'missing.safetensors');
    expect(existsSync(missing)).toBe(false);
    expect(() => io.readSafetensors(missing)).toThrow(`readSafetensors: cannot read ${missing}`);
  });
});
