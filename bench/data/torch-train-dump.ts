// Our side of the long-run training comparison with PyTorch (bench/data/torch-train.py): builds the
// small preset's model, writes its initial state dict, the first --iters batches of our loader and
// the validation scenes to --out, trains on exactly those batches (the library only: models.ANN,
// models.annLoss, optim.SGD + PolyLR) and writes the loss of every step and the final per-class IoU.
// Dropout is 0 on both sides, so the two runs see the same function and the same data.
//   npx tsx bench/data/torch-train-dump.ts --variant apnb [--iters 300] [--seed 1] [--lr 0.05]
//       [--fold auto|on|off] [--val 60] [--out /tmp/ann-torch-train]
// then /usr/bin/python3 bench/data/torch-train.py --variant apnb --out /tmp/ann-torch-train
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { data, io, models, noGrad, optim, tensor, tidy, type Tensor } from '../../lib/index.js';

const { values: a } = parseArgs({
  options: {
    variant: { type: 'string', default: 'apnb' },
    iters: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.05' },
    fold: { type: 'string', default: 'auto' },
    val: { type: 'string', default: '60' },
    batch: { type: 'string', default: '8' },
    crop: { type: 'string', default: '64' },
    out: { type: 'string', default: '/tmp/ann-torch-train' },
    // Iterations (0-based, > 0) at which one step is recorded whole for torch-train.py --check: the
    // state before it, the momentum buffers, the loss, every gradient and the state after it.
    check: { type: 'string', default: '' },
  },
});
const iters = Number(a.iters);
const seed = Number(a.seed);
const batch = Number(a.batch);
const crop = Number(a.crop);
const K = data.SYNTHETIC_CLASSES.length;
const variant = a.variant as models.ANNVariant;
mkdirSync(a.out, { recursive: true });
const tag = `${variant}-s${seed}-fold${a.fold}`;

// The small preset's network (lib/train/presets.ts), dropout off.
const config = {
  depth: 18,
  width: 0.25,
  numClasses: K,
  variant,
  keyChannels: 16,
  valueChannels: 32,
  contextChannels: 64,
  auxChannels: 32,
  dropout: 0,
  auxDropout: 0,
  seed,
} as const;
const model = models.ANN(config);
const fold = a.fold === 'auto' ? 'auto' : a.fold === 'on';
for (const block of [model.fusion, model.contextBlock]) if (block && 'foldW' in block) block.foldW = fold;
io.writeSafetensors(join(a.out, `init-${variant}-s${seed}.safetensors`), model.stateDict(), { config: JSON.stringify(config) });

// The batches: a pure function of (loader seed, k), so one file serves every variant.
const batchesPath = join(a.out, `batches-s${seed}-n${iters}.safetensors`);
const train = data.synthetic({ split: 'train', seed: 0 });
const loader = new data.DataLoader(train, { batchSize: batch, crop, seed });
const images = new Float32Array(iters * batch * 3 * crop * crop);
const labels = new Int32Array(iters * batch * crop * crop);
const batches: { image: Tensor; label: Tensor }[] = [];
for (let it = 0; it < iters; it++) {
  const b = await loader.next();
  images.set(b.image.toFloat32Array(), it * batch * 3 * crop * crop);
  labels.set(b.label.toInt32Array(), it * batch * crop * crop);
  batches.push({ image: b.image, label: b.label });
}
await loader.close();
if (!existsSync(batchesPath)) {
  const rec = {
    images: tensor(images, [iters, batch, 3, crop, crop]),
    labels: tensor(labels, [iters, batch, crop, crop]),
  };
  io.writeSafetensors(batchesPath, rec);
  rec.images.dispose();
  rec.labels.dispose();
}

const valSet = data.synthetic({ split: 'val', length: Number(a.val), seed: 0 });
const samples = Array.from({ length: valSet.length }, (_, i) => valSet.sample(i));
const valPath = join(a.out, `val-n${valSet.length}.safetensors`);
if (!existsSync(valPath)) {
  const rec = { images: data.toInputTensor(samples), labels: data.toLabelTensor(samples) };
  io.writeSafetensors(valPath, rec);
  rec.images.dispose();
  rec.labels.dispose();
}

model.train();
const opt = new optim.SGD(model.parameters(), { lr: Number(a.lr), momentum: 0.9, weightDecay: 5e-4 });
const sched = new optim.PolyLR(opt, { maxIters: iters });
const losses: number[] = [];
const checks = new Set(a.check ? a.check.split(',').map(Number) : []);
const named = model.namedParameters();
const prefixed = (prefix: string, dict: Record<string, Tensor>) => Object.fromEntries(Object.entries(dict).map(([k, v]) => [prefix + k, v]));
const t0 = performance.now();
for (let it = 0; it < iters; it++) {
  const b = batches[it];
  const record: Record<string, Tensor> = {};
  const copies: Tensor[] = [];
  const copy = (t: Tensor) => {
    const c = t.detachedCopy();
    copies.push(c);
    return c;
  };
  if (checks.has(it)) {
    for (const [k, v] of Object.entries(model.stateDict())) record[`before.${k}`] = copy(v);
    opt.stateDict().momentumBuffers.forEach((m, i) => m && (record[`momentum.${named[i][0]}`] = copy(m)));
  }
  const lr = opt.lr;
  const loss = tidy(() => models.annLoss(model.forward(b.image), b.label));
  opt.zeroGrad();
  loss.backward();
  if (checks.has(it)) for (const [k, p] of named) if (p.grad) record[`grad.${k}`] = copy(p.grad);
  opt.step();
  sched.step();
  if (checks.has(it)) {
    record.loss = copy(loss);
    Object.assign(record, prefixed('after.', model.stateDict()));
    io.writeSafetensors(join(a.out, `step-${tag}-${it}.safetensors`), record, { lr: String(lr), iter: String(it), config: JSON.stringify(config) });
    copies.forEach((c) => c.dispose());
  }
  losses.push(loss.item());
  loss.dispose();
  b.image.dispose();
  b.label.dispose();
  if ((it + 1) % 50 === 0) console.error(`ours ${tag} it ${it + 1} loss ${mean(losses.slice(-50)).toFixed(4)}`);
}
const trainS = (performance.now() - t0) / 1000;

model.eval();
const conf = new Float64Array(K * K);
const hw = valSet.height * valSet.width;
for (let start = 0; start < samples.length; start += 10) {
  const part = samples.slice(start, start + 10);
  const logits = noGrad(() => tidy(() => model.forward(data.toInputTensor(part)).main.toFloat32Array()));
  part.forEach((s, bi) => {
    for (let p = 0; p < hw; p++) {
      let best = 0;
      for (let c = 1; c < K; c++) if (logits[(bi * K + c) * hw + p] > logits[(bi * K + best) * hw + p]) best = c;
      conf[s.label[p] * K + best]++;
    }
  });
}
const iou = Array.from({ length: K }, (_, c) => {
  let row = 0;
  let col = 0;
  for (let d = 0; d < K; d++) {
    row += conf[c * K + d];
    col += conf[d * K + c];
  }
  return conf[c * K + c] / (row + col - conf[c * K + c]);
});
// The trained state and its evaluation-mode logits (before upsampling) on the first 10 val scenes.
{
  const input = data.toInputTensor(samples.slice(0, 10));
  const logits = noGrad(() => model.forwardLogits(input));
  input.dispose();
  io.writeSafetensors(join(a.out, `final-${tag}.safetensors`), { ...prefixed('state.', model.stateDict()), 'eval.main': logits.main, 'eval.aux': logits.aux });
  logits.main.dispose();
  logits.aux.dispose();
}
const result = { side: 'ours', variant, seed, fold: a.fold, lr: Number(a.lr), iters, trainS, losses, iou, miou: mean(iou) };
writeFileSync(join(a.out, `ours-${tag}.json`), JSON.stringify(result));
console.log(`ours ${tag}: mIoU ${(100 * result.miou).toFixed(1)} IoU ${iou.map((v) => (100 * v).toFixed(0)).join('/')} (${trainS.toFixed(0)} s)`);
opt.dispose();
model.dispose();

function mean(xs: number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}
