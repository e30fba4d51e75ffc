// A one-off check for a loaded machine, not part of `ann-seg bench`: one training step of a preset
// (as `ann-seg bench step` runs it) in CPU time of this process, min of `reps`, beside step.py:
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ANN_SEG_NUM_THREADS=1 npx tsx bench/cpu-time/step.ts small 15
// ANN_SEG_ADDON picks another build.
import { stepRunner } from '../../lib/cli/bench/step.js';
import { resolveConfig } from '../../lib/models/config.js';
import { preset } from '../../lib/train/presets.js';

const [name = 'small', repsArg = '15'] = process.argv.slice(2);
const reps = Number(repsArg);
const c = preset(name);
const { step } = stepRunner({ preset: name, model: resolveConfig(c.model), batch: c.batch, crop: c.crop, lr: c.lr, ohemMinKept: c.ohemMinKept });
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
