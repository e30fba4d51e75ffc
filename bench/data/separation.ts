// Does the embedded dataset separate the models the paper's Table 6 separates? Trains each variant
// with a bare loop (the library only: models.ANN, models.annLoss, optim.SGD + PolyLR, data.DataLoader)
// for a fixed budget and seeds, and prints val pixel accuracy, mIoU and the two context-decided
// classes' IoU. A record of how the dataset and the small preset were chosen (bench/data/RESULTS.md),
// not a test.
//   npx tsx bench/data/separation.ts [--variants baseline,full] [--seeds 1,2] [--iters 300] [--batch 8]
//       [--crop 64] [--lr 0.02] [--width 0.25] [--key 16] [--value 32] [--context 64] [--aux 32] [--val 100]
//       [--size 96] [--tint 45] [--lo 0.62] [--hi 0.8] [--clump 1.6]
import { parseArgs } from 'node:util';

import { data, models, noGrad, optim, tidy } from '../../lib/index.js';
import { BeaconScenes } from './beacon-scenes.js';
import { CountScenes } from './count-scenes.js';
import { RetrievalScenes } from './retrieval-scenes.js';

const { values: a } = parseArgs({
  options: {
    variants: { type: 'string', default: 'baseline,full' },
    seeds: { type: 'string', default: '1,2' },
    iters: { type: 'string', default: '300' },
    batch: { type: 'string', default: '8' },
    crop: { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.02' },
    width: { type: 'string', default: '0.25' },
    depth: { type: 'string', default: '18' },
    key: { type: 'string', default: '16' },
    value: { type: 'string', default: '32' },
    context: { type: 'string', default: '64' },
    aux: { type: 'string', default: '32' },
    val: { type: 'string', default: '100' },
    'batch-stats': { type: 'boolean', default: false },
    size: { type: 'string', default: '96' },
    tint: { type: 'string', default: String(data.DEFAULT_TINT) },
    lo: { type: 'string', default: String(data.MAJORITY_MIN) },
    hi: { type: 'string', default: String(data.MAJORITY_MAX) },
    clump: { type: 'string', default: String(data.DEFAULT_CLUMP) },
    // The experimental content-retrieval scenes of retrieval-scenes.ts instead of the embedded dataset.
    retrieval: { type: 'boolean', default: false },
    // The experimental counting scenes of count-scenes.ts: discs 'lo,hi' per scene, the winner's share 'lo,hi'.
    count: { type: 'boolean', default: false },
    // The experimental beacon strips of beacon-scenes.ts: --size high, --strip wide (crop 'h,w' to match).
    beacon: { type: 'boolean', default: false },
    strip: { type: 'string', default: '512' },
    // With --beacon: the strip's first share whose ground is tinted (a colour cast) instead of a beacon.
    cast: { type: 'string', default: '0' },
    discs: { type: 'string', default: '13,21' },
    lead: { type: 'string', default: '0.6,0.67' },
    radius: { type: 'string', default: '3.5' },
    // The augmentation's scale range, 'lo,hi' (default the paper's 0.5,2).
    scale: { type: 'string', default: '0.5,2' },
  },
});
const num = (s: string) => Number(s);
const iters = num(a.iters);
const K = data.SYNTHETIC_CLASSES.length;

type Scenes = { length: number; height: number; width: number; sample(i: number): data.RawSample };
function evaluate(model: models.ANNModel, val: Scenes, batchStats = false): { acc: number; miou: number; iou: number[] } {
  const conf = new Float64Array(K * K);
  // batchStats: BN normalises with each batch of 10 scenes' own statistics (and dropout stays on), to tell
  // what the network learned from what its running statistics give.
  if (!batchStats) model.eval();
  for (let start = 0; start < val.length; start += 10) {
    const samples = Array.from({ length: Math.min(10, val.length - start) }, (_, i) => val.sample(start + i));
    const logits = noGrad(() =>
      tidy(() => {
        const x = data.toInputTensor(samples);
        return model.forward(x).main.toFloat32Array();
      }),
    );
    const hw = val.height * val.width;
    samples.forEach((s, b) => {
      for (let p = 0; p < hw; p++) {
        let best = 0;
        for (let c = 1; c < K; c++) if (logits[(b * K + c) * hw + p] > logits[(b * K + best) * hw + p]) best = c;
        conf[s.label[p] * K + best]++;
      }
    });
  }
  model.train();
  let diag = 0;
  let total = 0;
  const iou: number[] = [];
  for (let c = 0; c < K; c++) {
    let row = 0;
    let col = 0;
    for (let d = 0; d < K; d++) {
      row += conf[c * K + d];
      col += conf[d * K + c];
    }
    diag += conf[c * K + c];
    total += row;
    iou.push(conf[c * K + c] / (row + col - conf[c * K + c]));
  }
  return { acc: diag / total, miou: iou.reduce((s, v) => s + v, 0) / K, iou };
}

const castOptions = { tint: num(a.tint), majority: [num(a.lo), num(a.hi)] as const, clump: num(a.clump) };
const pair = (v: string) => v.split(',').map(num) as [number, number];
const countOptions = { discs: pair(a.discs), lead: pair(a.lead), radius: num(a.radius) };
const val: Scenes = a.beacon
  ? new BeaconScenes(num(a.val), 7, num(a.size), num(a.strip), num(a.cast))
  : a.count
  ? new CountScenes(num(a.val), 7, num(a.size), countOptions)
  : a.retrieval
  ? new RetrievalScenes(num(a.val), 7, num(a.size))
  : data.synthetic({ split: 'val', length: num(a.val), seed: 0, height: num(a.size), width: num(a.size), ...castOptions });
const scale = a.scale.split(',').map(num) as [number, number];
const rows: string[] = [];
for (const variant of a.variants.split(',') as models.ANNVariant[]) {
  for (const seed of a.seeds.split(',').map(num)) {
    const model = models.ANN({
      depth: num(a.depth) as models.ANNDepth,
      width: num(a.width),
      numClasses: K,
      variant,
      keyChannels: num(a.key),
      valueChannels: num(a.value),
      contextChannels: num(a.context),
      auxChannels: num(a.aux),
      seed,
    });
    model.train();
    const opt = new optim.SGD(model.parameters(), { lr: num(a.lr), momentum: 0.9, weightDecay: 5e-4 });
    const sched = new optim.PolyLR(opt, { maxIters: iters });
    const train = a.beacon
      ? new BeaconScenes(2000, 1, num(a.size), num(a.strip), num(a.cast))
      : a.count
      ? new CountScenes(2000, 1, num(a.size), countOptions)
      : a.retrieval
      ? new RetrievalScenes(2000, 1, num(a.size))
      : data.synthetic({ split: 'train', seed: 0, height: num(a.size), width: num(a.size), ...castOptions });
    const loader = new data.DataLoader(train, { batchSize: num(a.batch), crop: a.crop.includes(',') ? pair(a.crop) : num(a.crop), seed, augment: { scale } });
    const t0 = performance.now();
    let wait = 0;
    let lossSum = 0;
    for (let it = 0; it < iters; it++) {
      const b = await loader.next();
      wait += b.waitMs;
      const loss = tidy(() => models.annLoss(model.forward(b.image), b.label));
      opt.zeroGrad();
      loss.backward();
      opt.step();
      sched.step();
      lossSum += loss.item();
      loss.dispose();
      b.dispose();
      if ((it + 1) % 100 === 0) {
        console.error(`${variant} seed ${seed} it ${it + 1} loss ${(lossSum / 100).toFixed(3)}`);
        lossSum = 0;
      }
    }
    const trainMs = performance.now() - t0;
    await loader.close();
    const e = evaluate(model, val);
    const row = `${variant.padEnd(9)} seed ${seed}  acc ${(100 * e.acc).toFixed(1)}  mIoU ${(100 * e.miou).toFixed(1)}  IoU ${e.iou.map((v) => (100 * v).toFixed(0)).join('/')}  ${(trainMs / iters).toFixed(0)} ms/it, data ${((100 * wait) / trainMs).toFixed(1)}%`;
    console.log(row);
    rows.push(row);
    if (a['batch-stats']) {
      const t = evaluate(model, val, true);
      const r2 = `${variant.padEnd(9)} seed ${seed}  batch statistics: acc ${(100 * t.acc).toFixed(1)}  mIoU ${(100 * t.miou).toFixed(1)}  IoU ${t.iou.map((v) => (100 * v).toFixed(0)).join('/')}`;
      console.log(r2);
      rows.push(r2);
    }
    opt.dispose();
    model.dispose();
  }
}
console.log(`\n${process.argv.slice(2).join(' ')}\n${rows.join('\n')}`);
