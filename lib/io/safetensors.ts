// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

import { tempPathFor } from './atomic.js';

export type SafetensorsDType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8';

export type RawArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: RawArray;
}

export interface RawSafetensors {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1 };
/** The largest JSON header accepted (as the reference implementation's limit). */
export const MAX_HEADER = 100 * 1024 * 1024;

function bad(path: string, why: string): never {
  throw new Error(`readSafetensors: ${path}: ${why}`);
}

function typedView(dtype: SafetensorsDType, bytes: Uint8Array): RawArray {
  // Copy into a fresh, aligned buffer: the file's data need not be aligned for the element type.
  // (Buffer#slice would return a view of the whole file, not a copy.)
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const buf = copy.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return new Float64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'U8':
      return new Uint8Array(buf);
  }
}

/** Reads every tensor of a safetensors file in its stored dtype, checking the file's structure. */
export function readSafetensorsRaw(path: string): RawSafetensors {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (err) {
    throw new Error(`readSafetensors: cannot read ${path}: ${(err as Error).message}`);
  }
  if (file.length < 8) bad(path, `file is ${file.length} bytes, too short for a safetensors header`);
  const headerLen = file.readBigUInt64LE(0);
  if (headerLen > BigInt(MAX_HEADER)) bad(path, `header length ${headerLen} exceeds the limit of ${MAX_HEADER} bytes (not safetensors?)`);
  if (headerLen > BigInt(file.length - 8))
    bad(path, `header length ${headerLen} exceeds the file size ${file.length} (truncated or not safetensors)`);
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
  } catch (err) {
    bad(path, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad(path, 'header is not a JSON object');
  const data = file.subarray(8 + n);
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) bad(path, `__metadata__ is not a JSON object`);
      for (const [k, v] of Object.entries(entry))
        if (typeof v !== 'string') bad(path, `__metadata__ '${k}' is ${JSON.stringify(v)}, not a string`);
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) bad(path, `entry '${name}' is not an object`);
    const dtype = e.dtype as SafetensorsDType;
    if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype))
      bad(path, `tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)} (supported: F32, F64, I32, I64, U8)`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      bad(path, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0))
      bad(path, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin) bad(path, `tensor '${name}' has reversed data_offsets [${begin}, ${end}]`);
    if (end > data.length)
      bad(path, `tensor '${name}' bytes ${begin}..${end} lie outside the ${data.length} data bytes (truncated file?)`);
    if (end - begin !== count * BYTES[dtype])
      bad(path, `tensor '${name}' ${dtype} ${JSON.stringify(shape)} needs ${count * BYTES[dtype]} bytes, has ${end - begin}`);
    ranges.push([begin, end, name]);
    tensors.set(name, { dtype, shape: shape as number[], data: typedView(dtype, data.subarray(begin, end)) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++)
    if (ranges[i][0] < ranges[i - 1][1]) bad(path, `tensors '${ranges[i - 1][2]}' and '${ranges[i][2]}' overlap`);
  return { tensors, metadata };
}

function dtypeOf(data: RawArray): SafetensorsDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  return 'U8';
}

/** Writes tensors atomically (a temporary file in the same folder, then a rename). */
export function writeSafetensorsRaw(
  path: string,
  tensors: Record<string, { shape: number[]; data: RawArray }>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const { shape, data } = tensors[name];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length)
      throw new Error(`writeSafetensors: tensor '${name}' has ${data.length} values but shape ${JSON.stringify(shape)}`);
    header[name] = { dtype: dtypeOf(data), shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, Buffer.from(json, 'utf8'));
    for (const name of names) {
      const d = tensors[name].data;
      writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
