import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readSafetensorsRaw, writeSafetensorsRaw } from '../lib/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'ann-st-'));

function file(name: string, header: unknown, data = new Uint8Array(0)): string {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([head, json, data]));
  return path;
}

describe('safetensors', () => {
  it('round-trips every dtype, each tensor a separate copy', () => {
    const path = join(dir, 'rt.safetensors');
    writeSafetensorsRaw(
      path,
      {
        a: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) },
        b: { shape: [3], data: new Float64Array([0.1, -2, 1e300]) },
        c: { shape: [2], data: new Int32Array([-7, 2147483647]) },
        d: { shape: [1], data: new BigInt64Array([-5n]) },
        e: { shape: [0], data: new Uint8Array(0) },
      },
      { format: 'pt' },
    );
    const { tensors, metadata } = readSafetensorsRaw(path);
    expect(metadata).toEqual({ format: 'pt' });
    expect(Array.from(tensors.get('a')!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, -6.5]);
    expect(tensors.get('a')!.data.length).toBe(6);
    expect(tensors.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(tensors.get('b')!.data as Float64Array)).toEqual([0.1, -2, 1e300]);
    expect(Array.from(tensors.get('c')!.data as Int32Array)).toEqual([-7, 2147483647]);
    expect(Array.from(tensors.get('d')!.data as BigInt64Array)).toEqual([-5n]);
    expect(tensors.get('e')!.shape).toEqual([0]);
  });

  it('rejects malformed and truncated files with clear errors', () => {
    const short = join(dir, 'short');
    writeFileSync(short, Buffer.from([1, 2, 3]));
    expect(() => readSafetensorsRaw(short)).toThrow(/too short/);
    const huge = join(dir, 'huge');
    const h = Buffer.alloc(16);
    h.writeBigUInt64LE(1n << 60n);
    writeFileSync(huge, h);
    expect(() => readSafetensorsRaw(huge)).toThrow(/header length .* exceeds the file size/);
    const notJson = join(dir, 'notjson');
    const nj = Buffer.alloc(12);
    nj.writeBigUInt64LE(4n);
    nj.write('{{{{', 8);
    writeFileSync(notJson, nj);
    expect(() => readSafetensorsRaw(notJson)).toThrow(/not valid JSON/);
    expect(() => readSafetensorsRaw(file('dtype', { x: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)))).toThrow(/unsupported dtype "BF16"/);
    expect(() => readSafetensorsRaw(file('trunc', { x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)))).toThrow(/outside the 8 data bytes/);
    expect(() => readSafetensorsRaw(file('size', { x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(/needs 12 bytes, has 8/);
    expect(() => readSafetensorsRaw(file('shape', { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(/invalid shape/);
    expect(() =>
      readSafetensorsRaw(
        file('overlap', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      ),
    ).toThrow(/overlap/);
    expect(() => readSafetensorsRaw(join(dir, 'missing.safetensors'))).toThrow(/cannot read/);
  });

  it('writes atomically: a failed write leaves the old file intact', () => {
    const path = join(dir, 'atomic.safetensors');
    writeSafetensorsRaw(path, { a: { shape: [1], data: new Float32Array([1]) } });
    const before = readFileSync(path);
    expect(() => writeSafetensorsRaw(path, { a: { shape: [2], data: new Float32Array([1]) } })).toThrow(/has 1 values but shape \[2\]/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
