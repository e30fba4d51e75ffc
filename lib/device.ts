// Device names and the default device. ANN_SEG_DEVICE (cpu | cuda) sets the device every tensor is
// made on when no `device` option is given; it is read at each creation, so a bad value fails at
// the first tensor with a message naming the variable, and tests may set it in-process.
import type { Device } from './native/index.js';

export type { Device };

const DEVICES: readonly Device[] = ['cpu', 'cuda'];

/** `value` as a Device, or an error that names where it came from ('to', 'ANN_SEG_DEVICE', ...). */
export function parseDevice(what: string, value: unknown): Device {
  if (typeof value === 'string' && (DEVICES as readonly string[]).includes(value)) return value as Device;
  throw new Error(`${what}: unknown device ${JSON.stringify(value)} (expected 'cpu' or 'cuda')`);
}

/** The device tensors are made on by default: ANN_SEG_DEVICE, else 'cpu'. */
export function defaultDevice(): Device {
  const v = process.env.ANN_SEG_DEVICE;
  return v === undefined || v === '' ? 'cpu' : parseDevice('ANN_SEG_DEVICE', v);
}

/** A `device` option, or the default device when it is undefined. */
export function resolveDevice(op: string, device: unknown): Device {
  return device === undefined ? defaultDevice() : parseDevice(op, device);
}

/**
 * The one device of tensors an op combines, or an error naming both devices (for TypeScript-level
 * ops; the native kernels check their own arguments).
 */
export function commonDevice(op: string, tensors: readonly { device: Device }[]): Device {
  const first = tensors[0]?.device ?? defaultDevice();
  for (const t of tensors)
    if (t.device !== first) throw new Error(`${op}: tensors on different devices (${first} and ${t.device})`);
  return first;
}
