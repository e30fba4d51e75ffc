// Trains a small ANN on the embedded synthetic dataset with the library alone (no CLI, no Trainer):
// a preset's model, data's DataLoader, SGD + the poly schedule, one tidy scope per step, an
// evaluation every --eval-every iterations and a checkpoint at the end.
//   npx tsx examples/train-synthetic.ts [--iters 200] [--batch 8] [--crop 64] [--eval-every 100]
//       [--val 100] [--size 96] [--out runs/example]
// then: npx tsx examples/predict.ts --checkpoint runs/example/model.safetensors
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { data, manualSeed, models, optim, tidy, train } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    iters: { type: 'string', default: '200' },
    batch: { type: 'string', default: '8' },
    crop: { type: 'string', default: '64' },
    'eval-every': { type: 'string', default: '100' },
    val: { type: 'string', default: '100' },
    size: { type: 'string', default: '96' },
    out: { type: 'string', default: 'runs/example' },
  },
});
const iters = Number(values.iters);
const evalEvery = Number(values['eval-every']);
const size = Number(values.size);
for (const [k, v] of Object.entries({ iters, batch: Number(values.batch), crop: Number(values.crop), 'eval-every': evalEvery, val: Number(values.val), size }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);

manualSeed(0);
const trainSet = data.synthetic({ split: 'train', height: size, width: size });
const valSet = data.synthetic({ split: 'val', length: Number(values.val), height: size, width: size });

// The small preset's network, with as many classes as the dataset has.
const recipe = train.preset('small');
const model = models.ANN({ ...recipe.model, numClasses: trainSet.classes.length });
model.train();
const opt = new optim.SGD(model.parameters(), { lr: recipe.lr, momentum: 0.9, weightDecay: 5e-4 });
const poly = new optim.PolyLR(opt, { maxIters: iters, power: 0.9 });
const loader = new data.DataLoader(trainSet, { batchSize: Number(values.batch), crop: Number(values.crop), augment: true, seed: 0 });

async function validate(iter: number): Promise<void> {
  const r = await train.evaluate(model, valSet);
  model.train();
  console.log(`iter ${iter}: val mIoU ${(100 * r.miou).toFixed(2)}%, pixel accuracy ${(100 * r.pixelAccuracy).toFixed(2)}%`);
}

for (let it = 1; it <= iters; it++) {
  const batch = await loader.next();
  // Everything the step creates (activations, the loss) is freed when the scope ends; the backward
  // pass runs inside it, the parameters and SGD's momentum live outside.
  const loss = tidy(() => {
    const l = models.annLoss(model.forward(batch.image), batch.label, { minKept: recipe.ohemMinKept });
    opt.zeroGrad();
    l.backward();
    opt.step();
    return l.item();
  });
  batch.dispose();
  poly.step();
  if (it % 20 === 0 || it === iters) console.log(`iter ${it}/${iters} loss ${loss.toFixed(4)} lr ${opt.lr.toExponential(2)}`);
  if (it % evalEvery === 0 || it === iters) await validate(it);
}
await loader.close();

mkdirSync(values.out, { recursive: true });
const checkpoint = join(values.out, 'model.safetensors');
models.saveCheckpoint(checkpoint, model);
console.log(`checkpoint: ${checkpoint}`);
opt.dispose();
model.dispose();
