// `ann-seg bench blocks`: the paper's Table 1 (NB vs APNB, FNB vs AFNB) on this machine. Each case
// runs in a fresh child process (see blocks-measure.ts for why); this file spawns them and prints.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { packageRoot } from '../native/index.js';
import { anchorCount, blockCases, blockFlops, caseName, type BlockCase, type FlopBreakdown } from './blocks-cases.js';
import type { CaseMeasurement, MeasureOptions } from './blocks-measure.js';

export interface BlockRow {
  name: string;
  blockCase: BlockCase;
  flops: FlopBreakdown;
  measured: CaseMeasurement;
}

/** The child's command: compiled JS runs under plain node; the TypeScript source (tests, tsx) through tsx. */
function childCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  const ts = self.endsWith('.ts');
  const child = self.replace(/blocks\.(ts|js)$/, `blocks-child.${ts ? 'ts' : 'js'}`);
  return ts ? ['--import', 'tsx', child] : [child];
}

export function measureInChild(blockCase: BlockCase, options: MeasureOptions = {}): CaseMeasurement {
  const text = execFileSync(process.execPath, [...childCommand(), JSON.stringify({ blockCase, options })], {
    // tsx resolves from the package root; the child's errors go straight to our stderr.
    cwd: packageRoot(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = text.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as CaseMeasurement;
  } catch {
    throw new Error(`bench blocks: the ${caseName(blockCase)} child printed no measurement: ${text.slice(-500)}`);
  }
}

export interface BlockBenchOptions {
  scale: number;
  /** Adds NB and FNB forward+backward (minutes at full size on 2 cores). */
  backward: boolean;
  measure?: MeasureOptions;
  /** Called as each case finishes (long runs show progress). */
  onRow?: (row: BlockRow) => void;
}

export function runBlockBench(o: BlockBenchOptions): BlockRow[] {
  return blockCases(o.scale, o.backward).map((blockCase) => {
    const row = { name: caseName(blockCase), blockCase, flops: blockFlops(blockCase), measured: measureInChild(blockCase, o.measure) };
    o.onRow?.(row);
    return row;
  });
}

/** Left-aligned first two columns, right-aligned numbers. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((s, j) => (j < 2 ? s.padEnd(widths[j]) : s.padStart(widths[j]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
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

export function describeSetting(rows: BlockRow[]): string {
  const c = rows[0].blockCase;
  return (
    `batch 1, ${c.height}x${c.width} (N = ${c.height * c.width}); NB/APNB in = out = 2048, ` +
    `FNB/AFNB low 1024, high = out = 2048; key = value = 256; pyramid 1,3,6,8 (S = 110)`
  );
}
