// `ann-seg bench blocks`: the paper's Table 1 (NB vs APNB, FNB vs AFNB) on this machine. Each case
// runs in a fresh child process (see blocks-measure.ts for why); this file spawns them and prints.
// Ours computes the blocks with W folded into the fuse conv (lib/nn/blocks/attention.ts); the FLOP
// columns count the plain layout, the work PyTorch's reference does, so GFLOP/s compare like for like.
import { runChild } from './child.js';
import { anchorCount, blockCases, blockFlops, caseKey, type BlockCase, type BlockKind, type FlopBreakdown, type Size } from './blocks-cases.js';
import type { CaseMeasurement, MeasureOptions } from './blocks-measure.js';
import type { TorchRow } from './torch-json.js';

export interface BlockRow {
  /** caseKey: kind, mode and size. */
  name: string;
  blockCase: BlockCase;
  flops: FlopBreakdown;
  measured: CaseMeasurement;
  torch?: TorchRow;
}

export function measureInChild(blockCase: BlockCase, options: MeasureOptions = {}): CaseMeasurement {
  return runChild<CaseMeasurement>('blocks-child', { blockCase, options }, `bench blocks: the ${caseKey(blockCase)} case`);
}

export interface BlockBenchOptions {
  sizes: Size[];
  /** Adds NB and FNB forward+backward (minutes at full size on 2 cores). */
  backward: boolean;
  /** Only these blocks (default all four). */
  only?: BlockKind[];
  measure?: MeasureOptions;
  /** PyTorch's side of each case, run right after ours (alternating) or read from a JSON. */
  torch?: (c: BlockCase, key: string) => TorchRow | undefined;
  /** Called as each case finishes (long runs show progress). */
  onRow?: (row: BlockRow, index: number, total: number) => void;
}

export function runBlockBench(o: BlockBenchOptions): BlockRow[] {
  const cases = o.sizes.flatMap((size) => blockCases(size, o.backward)).filter((c) => !o.only || o.only.includes(c.kind));
  return cases.map((blockCase, i) => {
    const name = caseKey(blockCase);
    const measured = measureInChild(blockCase, o.measure);
    const row: BlockRow = { name, blockCase, flops: blockFlops(blockCase), measured, torch: o.torch?.(blockCase, name) };
    o.onRow?.(row, i, cases.length);
    return row;
  });
}

const MB = 2 ** 20;
const fmtInt = (n: number) => n.toLocaleString('en-US');

export const TIME_HEADER = ['block', 'mode', 'HxW', 'N', 'S', 'time (ms)', 'GFLOP', 'GFLOP/s', 'peak MB', 'RSS MB'];

/** One row of the time table; a peak that setup's own mark may hide is printed as "<=". */
export function timeCells(r: BlockRow): string[] {
  const c = r.blockCase;
  const m = r.measured;
  return [
    c.kind,
    c.mode,
    `${c.height}x${c.width}`,
    String(c.height * c.width),
    String(anchorCount(c)),
    m.ms.toFixed(m.ms < 10 ? 2 : 1),
    (r.flops.total / 1e9).toFixed(3),
    (r.flops.total / (m.ms * 1e6)).toFixed(1),
    `${m.peakExact ? '' : '<='}${(m.peakBytes / MB).toFixed(1)}`,
    (m.rssBytes / MB).toFixed(1),
  ];
}

export const FLOP_HEADER = ['block', 'mode', 'projections', 'pooling', 'attention', 'W', 'fuse', 'total'];

export function flopCells(r: BlockRow): string[] {
  const f = r.flops;
  return [r.blockCase.kind, r.blockCase.mode, ...[f.projections, f.pooling, f.attention, f.W, f.fuse, f.total].map(fmtInt)];
}

/** PyTorch's columns beside ours, when it ran: its times on both allocators and its RSS. */
export const TORCH_HEADER = ['torch ms', 'torch default ms', 'torch RSS MB', 'ours / torch'];

export function torchCells(r: BlockRow): string[] {
  const t = r.torch;
  if (!t) return ['', '', '', ''];
  return [t.ms.toFixed(1), t.msDefault?.toFixed(1) ?? '', t.rssBytes === undefined ? '' : (t.rssBytes / MB).toFixed(1), (r.measured.ms / t.ms).toFixed(2)];
}

export function describeSetting(rows: BlockRow[]): string {
  const sizes = [...new Set(rows.map((r) => `${r.blockCase.height}x${r.blockCase.width} (N = ${r.blockCase.height * r.blockCase.width})`))];
  return (
    `batch 1, ${sizes.join(' and ')}; NB/APNB in = out = 2048, ` +
    `FNB/AFNB low 1024, high = out = 2048; key = value = 256; pyramid 1,3,6,8 (S = 110)`
  );
}
