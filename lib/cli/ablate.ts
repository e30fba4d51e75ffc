// `ann-seg ablate --table 6|7`: the paper's ablations on the embedded dataset, every row trained
// with the same budget and seeds; markdown + JSON + a bar chart.
import { resolve } from 'node:path';
import { native } from '../native/index.js';
import { PLAIN_ANCHORS, ablationMarkdown, runAblation, selectCases, writeAblation } from '../train/ablation.js';
import { cropSize, cropText } from '../train/config.js';
import { DEFAULT_PRESET, preset, TABLE6_PRESET } from '../train/presets.js';
import { numberOption, parseCommandArgs, stringOption, UsageError, type Command } from './args.js';

// On Table 6's strips some seeds of APNB and AFNB have not read the cast by iteration 500 and have by
// 1000 (bench/ablation/table6-500.md, table6.md).
const DEFAULT_ITERS = { 6: 1000, 7: 250 } as const;
const DEFAULT_VAL = 100;

async function ablate(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, {
    table: { type: 'string' },
    iters: { type: 'string' },
    seeds: { type: 'string' },
    preset: { type: 'string' },
    val: { type: 'string' },
    out: { type: 'string' },
    rows: { type: 'string' },
  });
  const table = numberOption(values, 'table', { integer: true });
  if (table !== 6 && table !== 7) throw new UsageError(`--table must be 6 or 7, got ${stringOption(values, 'table') ?? 'nothing'}`);
  const iters = numberOption(values, 'iters', { integer: true, min: 1 }) ?? DEFAULT_ITERS[table];
  const seedCount = numberOption(values, 'seeds', { integer: true, min: 1 }) ?? 3;
  const presetName = stringOption(values, 'preset') ?? (table === 6 ? TABLE6_PRESET : DEFAULT_PRESET);
  let base;
  try {
    base = preset(presetName);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (base.data !== 'synthetic') throw new UsageError(`--preset ${presetName} does not train on the embedded dataset`);
  const val = numberOption(values, 'val', { integer: true, min: 1 }) ?? DEFAULT_VAL;
  base = { ...base, iters, evalEvery: 0, checkpointEvery: 0, synthetic: { ...base.synthetic!, valSize: val } };
  // Plain random sampling draws n^2 distinct anchors from the crop's feature map (stride 8).
  const [fh, fw] = cropSize(base.crop).map((c) => Math.floor((c - 1) / 8) + 1);
  if (table === 7 && fh * fw < PLAIN_ANCHORS)
    throw new UsageError(`Table 7's plain sampling takes ${PLAIN_ANCHORS} anchors, but preset '${presetName}' crops ${cropText(base.crop)} px (a ${fh}x${fw} feature map); use a preset with a crop of at least 48`);
  const out = resolve(stringOption(values, 'out') ?? `runs/ablate-table${table}`);
  const seeds = Array.from({ length: seedCount }, (_, i) => i);
  const rowNames = stringOption(values, 'rows')?.split(',');
  let cases;
  try {
    cases = selectCases(table, rowNames);
  } catch (err) {
    throw new UsageError(`--rows: ${(err as Error).message.replace(/^ablation: /, '')}`);
  }
  const threads = native.info().threads;
  const command =
    `ann-seg ablate --table ${table} --iters ${iters} --seeds ${seedCount} --val ${val}${values.preset === undefined ? '' : ` --preset ${presetName}`}` +
    `${rowNames ? ` --rows ${rowNames.join(',')}` : ''}`;
  console.log(
    `Table ${table}: ${cases.length} rows x ${seedCount} seeds, '${presetName}' preset (depth ${base.model.depth}, width ${base.model.width}), ` +
      `${iters} iterations of batch ${base.batch} at crop ${cropText(base.crop)}, ${threads} threads -> ${out}`,
  );
  const t0 = performance.now();
  const rows = await runAblation({
    table,
    base,
    seeds,
    out,
    rows: rowNames,
    onRun: (r) =>
      console.log(
        `[${r.done}/${r.total}] ${r.name} seed ${r.seed}: mIoU ${(100 * r.miou).toFixed(2)}%, ${r.msPerIter.toFixed(0)} ms/iter, ${r.seconds.toFixed(0)} s`,
      ),
  });
  const minutes = (performance.now() - t0) / 60000;
  const header = [
    `# Table ${table} on the embedded dataset`,
    '',
    `Command: \`${command}\` (${minutes.toFixed(1)} min wall, ${threads} threads).`,
    `Each row: the '${presetName}' preset (ResNet-${base.model.depth} at width ${base.model.width}), ${iters} iterations, batch ${base.batch}, crop ${cropText(base.crop)}, ` +
      `SGD + poly from lr ${base.lr}, OHEM + 0.4 aux; seeds ${seeds.join(', ')} (the seed sets initialisation, dropout, data order and augmentation); ` +
      `evaluated on ${base.synthetic?.valSize ?? '?'} validation scenes (whole image). mIoU std: sample standard deviation over seeds.`,
    'GFLOPs: one forward at the training crop (1 x 3 x the crop), a multiply-add counted as 2: every convolution plus the ' +
      'attention products 2·N·S·(Ck+Cv); BN, ReLU, pooling, softmax and upsampling not counted. ms/iter: median training step (forward, backward, SGD), after 5 warm-up steps, over seeds.',
  ].join('\n');
  const files = await writeAblation(out, table, rows, header);
  console.log(`\n${ablationMarkdown(rows)}`);
  console.log(`${minutes.toFixed(1)} min; written: ${files.join(', ')}`);
  return 0;
}

export const ablateCommand: Command = {
  summary: "the paper's Table 6 / Table 7 ablations on the embedded dataset",
  help: `usage: ann-seg ablate --table 6|7 [--iters n] [--seeds n] [--val n] [--preset name] [--rows a,b] [--out dir]

Trains every row of the paper's Table 6 (the nine block variants) or Table 7 (APNB's
sampling method and anchor count) on the embedded dataset, with the same preset
(default: Table 6 ${TABLE6_PRESET}, whose strips put the token's cue beyond the
baseline's receptive field; Table 7 ${DEFAULT_PRESET}), budget (--iters, default ${DEFAULT_ITERS[6]} for Table 6, ${DEFAULT_ITERS[7]} for Table 7) and seeds (0..n-1, default 3),
evaluates each on --val validation scenes (default ${DEFAULT_VAL}) and writes table<N>.md, table<N>.json and a bar
chart (table<N>.svg/.png) into --out (default runs/ablate-table<N>), run folders under runs/.
--rows trains only the named rows, e.g. --rows baseline,full (a quick two-row comparison).`,
  run: ablate,
};
