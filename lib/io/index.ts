// io: safetensors files.
export { readSafetensorsRaw, writeSafetensorsRaw } from './safetensors.js';
export type { RawTensor, RawSafetensors, SafetensorsDType } from './safetensors.js';
export { readSafetensors, readSafetensorsMetadata, writeSafetensors } from './checkpoint.js';
export { writeFileAtomic } from './atomic.js';
