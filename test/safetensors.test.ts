import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { MAX_HEADER, readSafetensorsRaw, writeSafetensorsRaw } from '../lib/io/safetensors.js';
import { Generator } from '../lib/random.js';

// In memory where the system has it: the fuzz test writes thousands of small files.
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'ann-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, header: unknown, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
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
    h.writeBigUInt64LE(100n);
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

  it('rejects a header that is not an object, bad data_offsets, non-string metadata and the size limit', () => {
    for (const header of [[1, 2], 'x', null, 3]) expect(() => readSafetensorsRaw(file('notobj', header === 'x' ? '"x"' : header))).toThrow(/notobj: header is not a JSON object/);
    const entry = (offsets: unknown) => ({ x: { dtype: 'F32', shape: [1], data_offsets: offsets } });
    expect(() => readSafetensorsRaw(file('reversed', entry([4, 0]), new Uint8Array(8)))).toThrow(/reversed: tensor 'x' has reversed data_offsets \[4, 0\]/);
    expect(() => readSafetensorsRaw(file('negative', entry([-4, 0]), new Uint8Array(8)))).toThrow(/negative: tensor 'x' has invalid data_offsets \[-4,0\]/);
    for (const offsets of [[0], [0, 4, 8], [0, 4.5], ['0', '4'], null])
      expect(() => readSafetensorsRaw(file('offsets', entry(offsets), new Uint8Array(8)))).toThrow(/offsets: tensor 'x' has invalid data_offsets/);
    expect(() => readSafetensorsRaw(file('proto', { x: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(/unsupported dtype "toString"/);
    const meta = (m: unknown) => ({ __metadata__: m, ...entry([0, 4]) });
    expect(() => readSafetensorsRaw(file('meta1', meta({ a: 'ok', b: 1 }), new Uint8Array(4)))).toThrow(/meta1: __metadata__ 'b' is 1, not a string/);
    expect(() => readSafetensorsRaw(file('meta2', meta({ a: { nested: 'x' } }), new Uint8Array(4)))).toThrow(/__metadata__ 'a' is \{"nested":"x"\}, not a string/);
    for (const m of [['a'], 'a', 5, null]) expect(() => readSafetensorsRaw(file('meta3', meta(m), new Uint8Array(4)))).toThrow(/meta3: __metadata__ is not a JSON object/);
    expect(readSafetensorsRaw(file('meta4', meta({ a: 'ok' }), new Uint8Array(4))).metadata).toEqual({ a: 'ok' });
    // A file larger than the limit (sparse: no disk used) whose header length passes it by one byte.
    const big = join(dir, 'bigheader');
    const fd = openSync(big, 'w');
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(MAX_HEADER + 1));
    writeSync(fd, head);
    writeSync(fd, Buffer.from('{'), 0, 1, MAX_HEADER + 64);
    closeSync(fd);
    expect(() => readSafetensorsRaw(big)).toThrow(/bigheader: header length 104857601 exceeds the limit of 104857600 bytes/);
    rmSync(big);
  });

  it('fuzz: byte flips, truncations and header edits of a valid file load or throw an Error naming the file', () => {
    const valid = join(dir, 'valid.safetensors');
    writeSafetensorsRaw(
      valid,
      {
        w: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        d: { shape: [2], data: new Float64Array([0.5, -1]) },
        i: { shape: [3], data: new Int32Array([1, -2, 3]) },
        l: { shape: [1], data: new BigInt64Array([9n]) },
        u: { shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) },
      },
      { note: 'fuzz' },
    );
    const bytes = readFileSync(valid);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, Record<string, unknown>>;
    const data = bytes.subarray(8 + headerLen);
    const gen = new Generator(2024);
    const int = (n: number) => Math.floor(gen.uniform() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
    const junk = [-1, 0, 1, 3, 7, 2 ** 53, 2 ** 64, 1e300, -0.5, 'F32', 'I64', 'x', null, true, [], [0], [0, 4], [4, 0], [-1, 3], [2, 2], {}, { a: 1 }];
    const target = join(dir, 'mutant.safetensors');
    const withHeader = (h: unknown, len?: number) => {
      const json = Buffer.from(JSON.stringify(h));
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(len ?? json.length));
      return Buffer.concat([head, json, data]);
    };
    let loaded = 0;
    let rejected = 0;
    for (let trial = 0; trial < 3000; trial++) {
      let mutant: Buffer;
      const kind = trial % 3;
      if (kind === 0) {
        mutant = Buffer.from(bytes);
        for (let f = 1 + int(3); f > 0; f--) mutant[int(mutant.length)] ^= 1 + int(255);
      } else if (kind === 1) {
        mutant = bytes.subarray(0, int(bytes.length));
      } else {
        const h = structuredClone(header);
        const name = pick(Object.keys(h));
        const field = pick(['dtype', 'shape', 'data_offsets', 'extra']);
        if (name === '__metadata__') h[name] = gen.uniform() < 0.5 ? { note: pick(junk) } : (pick(junk) as Record<string, unknown>);
        else if (gen.uniform() < 0.2) delete h[name][field];
        else if (gen.uniform() < 0.1) h[name] = pick(junk) as Record<string, unknown>;
        else h[name][field] = pick(junk);
        const json = JSON.stringify(h);
        mutant = withHeader(h, gen.uniform() < 0.1 ? json.length + int(9) - 4 : undefined);
      }
      writeFileSync(target, mutant);
      try {
        const { tensors, metadata } = readSafetensorsRaw(target);
        for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`metadata '${k}' is ${typeof v}`);
        for (const [name, t] of tensors)
          if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: ${t.data.length} values for ${JSON.stringify(t.shape)}`);
        loaded++;
      } catch (err) {
        if (!(err instanceof Error) || !/^readSafetensors: .*mutant\.safetensors: /.test(err.message))
          expect.fail(`trial ${trial}: ${String(err)}`);
        rejected++;
      }
    }
    // Both outcomes occur: flips inside the data load; most header damage is refused.
    expect(loaded).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(1000);
  });

  it('writes atomically: a failed write leaves the old file intact', () => {
    const path = join(dir, 'atomic.safetensors');
    writeSafetensorsRaw(path, { a: { shape: [1], data: new Float32Array([1]) } });
    const before = readFileSync(path);
    expect(() => writeSafetensorsRaw(path, { a: { shape: [2], data: new Float32Array([1]) } })).toThrow(/has 1 values but shape \[2\]/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
