// The paper's Table 1 micro-benchmark cases (NB vs APNB, FNB vs AFNB) and their analytic FLOP
// counts. Pure arithmetic, no native calls: the CLI and the tests share it.

export type BlockKind = 'NB' | 'APNB' | 'FNB' | 'AFNB';
export type BenchMode = 'fwd' | 'fwd+bwd';

/** The paper's single-scale test size: Stage5 of a 2048x1024 image at output stride 8. */
export const FULL_HEIGHT = 256;
export const FULL_WIDTH = 128;
/** The official pyramid (S = 110). */
export const PYRAMID: readonly number[] = [1, 3, 6, 8];

export interface BlockCase {
  kind: BlockKind;
  mode: BenchMode;
  height: number;
  width: number;
  /** Key/value source channels: the input (NB, APNB) or Stage4 (FNB, AFNB). */
  lowChannels: number;
  /** Query source channels; equal to lowChannels for NB and APNB. */
  highChannels: number;
  outChannels: number;
  keyChannels: number;
  valueChannels: number;
}

export function isSelf(kind: BlockKind): boolean {
  return kind === 'NB' || kind === 'APNB';
}

export function isPyramid(kind: BlockKind): boolean {
  return kind === 'APNB' || kind === 'AFNB';
}

export interface Size {
  height: number;
  width: number;
}

/** --scale shrinks H and W (0.5 -> 128x64); channels stay at the paper's sizes. */
export function scaledSize(scale: number): Size {
  if (!(scale > 0 && scale <= 1)) throw new Error(`bench blocks: scale must be in (0, 1], got ${scale}`);
  return { height: Math.max(1, Math.round(FULL_HEIGHT * scale)), width: Math.max(1, Math.round(FULL_WIDTH * scale)) };
}

/**
 * Table 1's setting (C = 2048, C^ = 256) for NB and APNB; AFNB and FNB as in ANN (low = Stage4,
 * 1024 channels, high = Stage5, 2048, the same spatial size). NB and FNB backward at full size
 * cost minutes on 2 cores, so they join only when asked (`backward`).
 */
export function blockCases(size: Size, backward: boolean): BlockCase[] {
  const { height, width } = size;
  const base = { height, width, outChannels: 2048, keyChannels: 256, valueChannels: 256 };
  const shapes: Record<BlockKind, { lowChannels: number; highChannels: number }> = {
    NB: { lowChannels: 2048, highChannels: 2048 },
    APNB: { lowChannels: 2048, highChannels: 2048 },
    FNB: { lowChannels: 1024, highChannels: 2048 },
    AFNB: { lowChannels: 1024, highChannels: 2048 },
  };
  const cases: BlockCase[] = [];
  for (const kind of ['NB', 'APNB', 'FNB', 'AFNB'] as const) {
    cases.push({ kind, mode: 'fwd', ...base, ...shapes[kind] });
    if (isPyramid(kind) || backward) cases.push({ kind, mode: 'fwd+bwd', ...base, ...shapes[kind] });
  }
  return cases;
}

/** S: key/value positions (the pyramid's 110 anchors, or every position for NB and FNB). */
export function anchorCount(c: BlockCase): number {
  return isPyramid(c.kind) ? PYRAMID.reduce((s, n) => s + n * n, 0) : c.height * c.width;
}

/**
 * Input elements summed by one adaptive-average-pooling pass, per channel: every bin's area. Bins
 * of PyTorch's adaptive pooling overlap (start = floor(i*H/n), end = ceil((i+1)*H/n)), so this is
 * a little more than levels * H * W.
 */
export function pyramidReads(height: number, width: number, sizes: readonly number[] = PYRAMID): number {
  const span = (len: number, n: number) => {
    let total = 0;
    for (let i = 0; i < n; i++) total += Math.ceil(((i + 1) * len) / n) - Math.floor((i * len) / n);
    return total;
  };
  return sizes.reduce((s, n) => s + span(height, n) * span(width, n), 0);
}

export interface FlopBreakdown {
  /** 1x1 convs f_key, f_query (APNB: one shared module), f_value. */
  projections: number;
  /** Adaptive average pooling of the key and value maps (one add per element read). */
  pooling: number;
  /** softmax(Q K^T) V: the two products, 2*N*S*(Ck + Cv). */
  attention: number;
  /** W: value channels -> out. */
  W: number;
  /** conv_bn_dropout's 1x1 conv over cat([out, input]). */
  fuse: number;
  total: number;
}

/**
 * Analytic FLOPs (a multiply-add is 2) of one run. Counted: the products and the pooling adds;
 * not counted: bias, BN, ReLU, softmax and dropout (under 0.1% at these sizes).
 *
 * - Forward (evaluation): in APNB and NB f_query is f_key and x is both inputs, so our
 *   AttentionStage computes the key map once and reuses it as the query map. (The PyTorch
 *   reference calls f_key twice even in evaluation: 2*N*C*Ck more work than counted here.)
 * - Forward+backward (training): APNB and NB call the shared f_key twice, as the official code does
 *   (its BN statistics update twice); every part then counts 3x its forward: a product's backward is
 *   two products of the same size (input and weight gradients; the input requires grad, as inside
 *   the network), pooling's backward scatters as many elements as it read, and the attention's
 *   "useful" products are counted as in bench/RESULTS.md (the fused backward's recomputation of
 *   Q K^T is not credited).
 */
export function blockFlops(c: BlockCase): FlopBreakdown {
  const n = c.height * c.width;
  const s = anchorCount(c);
  const train = c.mode === 'fwd+bwd';
  const keyCalls = isSelf(c.kind) ? (train ? 2 : 1) : 1;
  const query = isSelf(c.kind) ? 0 : 2 * n * c.highChannels * c.keyChannels;
  const projections = keyCalls * 2 * n * c.lowChannels * c.keyChannels + query + 2 * n * c.lowChannels * c.valueChannels;
  const pooling = isPyramid(c.kind) ? pyramidReads(c.height, c.width) * (c.keyChannels + c.valueChannels) : 0;
  const attention = 2 * n * s * (c.keyChannels + c.valueChannels);
  const W = 2 * n * c.valueChannels * c.outChannels;
  const fuse = 2 * n * (c.outChannels + c.highChannels) * c.outChannels;
  const k = train ? 3 : 1;
  const parts = { projections: k * projections, pooling: k * pooling, attention: k * attention, W: k * W, fuse: k * fuse };
  return { ...parts, total: parts.projections + parts.pooling + parts.attention + parts.W + parts.fuse };
}

export function caseName(c: BlockCase): string {
  return `${c.kind} ${c.mode}`;
}

/** The name a row has in the JSON (ours and bench/torch/run.py's): the case and its size. */
export function caseKey(c: BlockCase): string {
  return `${c.kind} ${c.mode} ${c.height}x${c.width}`;
}

/** '96x96,256x128' -> sizes; each H and W a positive integer. */
export function parseSizes(text: string): Size[] {
  return text.split(',').map((part) => {
    const m = /^(\d+)x(\d+)$/.exec(part.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--sizes: expected HxW[,HxW...] with positive integers, got '${part}'`);
    return { height: Number(m[1]), width: Number(m[2]) };
  });
}
