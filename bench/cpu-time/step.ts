// A one-off check for a loaded machine, not part of `ann-seg bench`: one training step of a preset
// (as `ann-seg bench step` runs it) in CPU time of this process, min of `reps`, beside step.py:
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ANN_SEG_NUM_THREADS=1 npx tsx bench/cpu-time/step.ts small 15
// ANN_SEG_ADDON picks another build.
import { tidy } from '../../lib/autograd/scope.js';
import { annLoss } from '../../lib/models/loss.js';
import { ANN } from '../../lib/models/ann.js';
import { SGD } from '../../lib/optim/sgd.js';
import { randn, tensor } from '../../lib/tensor.js';
import { preset } from '../../lib/train/presets.js';

const [name = 'small', repsArg = '15'] = process.argv.slice(2);
const reps = Number(repsArg);
const c = preset(name);
const model = ANN({ ...c.model, seed: 1 });
model.train();
const opt = new SGD(model.parameters(), { lr: c.lr, momentum: 0.9, weightDecay: 5e-4 });
const x = randn([c.batch, 3, c.crop, c.crop], { seed: 2 });
const k = c.model.numClasses ?? 19;
const lab = new Int32Array(c.batch * c.crop * c.crop);
let s = 12345;
for (let i = 0; i < lab.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  lab[i] = (s >>> 8) % 10 === 0 ? 255 : (s >>> 12) % k;
}
const y = tensor(lab, [c.batch, c.crop, c.crop]);
const step = () => {
  const loss = tidy(() => annLoss(model.call(x), y, { minKept: c.ohemMinKept }));
  opt.zeroGrad();
  loss.backward();
  opt.step();
  loss.dispose();
};
const cpu: number[] = [];
const wall: number[] = [];
step();
for (let i = 0; i < reps; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  step();
  wall.push(performance.now() - t0);
  const u = process.cpuUsage(c0);
  cpu.push((u.user + u.system) / 1000);
}
const min = (a: number[]) => Math.min(...a).toFixed(1);
console.log(`ours step ${name}: cpu ${min(cpu)} ms, wall ${min(wall)} ms (min of ${reps})`);
