// Loads a checkpoint, segments one image and writes its mask as a colour PNG (and an overlay).
//   npx tsx examples/predict.ts --checkpoint runs/example/model.safetensors [--image in.png] [--out mask.png]
// Without --image it segments a scene of the embedded validation split (and writes that too).
import { parseArgs } from 'node:util';
import sharp from 'sharp';

import { data, io, models, train } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    image: { type: 'string' },
    out: { type: 'string', default: 'mask.png' },
  },
});
if (!values.checkpoint) throw new Error('--checkpoint is required (a models.saveCheckpoint file, e.g. a run\'s checkpoints/last.safetensors)');

// The checkpoint carries its config: loadCheckpoint rebuilds the network it was saved from.
const model = models.loadCheckpoint(values.checkpoint);
const { numClasses } = model.config;

let sample: data.RawSample;
if (values.image) {
  const { data: rgb, info } = await sharp(values.image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  sample = { image: new Uint8Array(rgb), label: new Uint8Array(info.width * info.height), height: info.height, width: info.width, name: values.image };
} else {
  sample = data.synthetic({ split: 'val', length: 1 }).sample(0);
  const input = values.out.replace(/\.png$/, '') + '-input.png';
  await sharp(Buffer.from(sample.image), { raw: { width: sample.width, height: sample.height, channels: 3 } }).png().toFile(input);
  console.log(`input:   ${input}`);
}

const mask = train.predictMask(model, sample);
const palette = numClasses === data.SYNTHETIC_PALETTE.length ? data.SYNTHETIC_PALETTE : undefined;
const colours = palette ?? Array.from({ length: numClasses }, (_, c) => [(c * 97) % 256, (c * 57) % 256, (c * 23) % 256] as const);
const png = await train.encodePng(train.colorize(mask, colours), sample.width, sample.height);
io.writeFileAtomic(values.out, png);
const overlayPath = values.out.replace(/\.png$/, '') + '-overlay.png';
io.writeFileAtomic(overlayPath, await train.encodePng(train.overlay(sample.image, mask, colours), sample.width, sample.height));
const counts = Array.from({ length: numClasses }, (_, c) => mask.reduce((n, v) => n + (v === c ? 1 : 0), 0));
console.log(`mask:    ${values.out} (${sample.width}x${sample.height}; pixels per class ${counts.join(', ')})`);
console.log(`overlay: ${overlayPath}`);
model.dispose();
