// The ANN model's configuration: plain JSON, so it travels inside checkpoints and rebuilds the
// network it describes. With only depth and numClasses given it is the official network.

/** The rows of the paper's Table 6 (ablation of APNB and AFNB on Cityscapes val). */
export const VARIANTS = [
  'baseline',
  'nb',
  'apnb',
  'common-fusion',
  'fnb',
  'afnb',
  'common-fusion+nb',
  'fnb+nb',
  'full',
] as const;
export type ANNVariant = (typeof VARIANTS)[number];

/** The paper's Table 7 sampling ablation; 'plain-*' take one size n (S = n^2). */
export const SAMPLINGS = ['pyramid-avg', 'pyramid-max', 'pyramid-random', 'plain-avg', 'plain-max', 'plain-random'] as const;
export type ANNSampling = (typeof SAMPLINGS)[number];

/**
 * Parameter names and layout: 'official' is MendelXu/ANN's (deep-base stem, biased convs before
 * BN). mmsegmentation's layout (ANN-SEMANTICS.md) would be a second value here.
 */
export const LAYOUTS = ['official'] as const;
export type ANNLayout = (typeof LAYOUTS)[number];

export const DEPTHS = [18, 34, 50, 101, 152] as const;
export type ANNDepth = (typeof DEPTHS)[number];

export type ANNFusionKind = 'common' | 'fnb' | 'afnb';
export type ANNContextKind = 'nb' | 'apnb';

/** What each Table 6 row adds to the baseline (backbone + context conv + classifier + aux head). */
export const VARIANT_PARTS: Record<ANNVariant, { fusion: ANNFusionKind | null; context: ANNContextKind | null; label: string }> = {
  baseline: { fusion: null, context: null, label: 'Baseline' },
  nb: { fusion: null, context: 'nb', label: '+ NB' },
  apnb: { fusion: null, context: 'apnb', label: '+ APNB' },
  'common-fusion': { fusion: 'common', context: null, label: '+ Common fusion' },
  fnb: { fusion: 'fnb', context: null, label: '+ FNB' },
  afnb: { fusion: 'afnb', context: null, label: '+ AFNB' },
  'common-fusion+nb': { fusion: 'common', context: 'nb', label: '+ Common fusion + NB' },
  'fnb+nb': { fusion: 'fnb', context: 'nb', label: '+ FNB + NB' },
  full: { fusion: 'afnb', context: 'apnb', label: '+ AFNB + APNB (Full)' },
};

export interface ANNConfig {
  layout?: ANNLayout;
  /** 50/101/152: the official bottleneck ResNets; 18/34: basic blocks (ours, for small CPU runs). Default 101. */
  depth?: ANNDepth;
  /** Multiplies every backbone channel count (ours, for small configurations); default 1. */
  width?: number;
  /** Default 19 (Cityscapes). */
  numClasses?: number;
  /** A Table 6 row; default 'full' (AFNB + APNB). */
  variant?: ANNVariant;
  /** Key/query and value channels of every attention block; default 256 each. */
  keyChannels?: number;
  valueChannels?: number;
  /** Channels of the context conv, APNB/NB and the classifier's input; default 512. */
  contextChannels?: number;
  /** Pooling output sizes of the anchors; default [1, 3, 6, 8] (S = 110). */
  sizes?: number[];
  sampling?: ANNSampling;
  /** Dropout2d after AFNB/FNB and APNB/NB; default 0.05. */
  dropout?: number;
  /** The aux head (`dsn`) width and its Dropout2d; defaults 512 and 0.05. */
  auxChannels?: number;
  auxDropout?: number;
  /** Seeds the initialisation; without it the default generator (manualSeed) is used. */
  seed?: number;
}

/** A config with every default filled in; what `model.config` returns. */
export type ResolvedANNConfig = Required<Omit<ANNConfig, 'seed'>> & { seed?: number };

export const DEFAULT_CONFIG: Readonly<Required<Omit<ANNConfig, 'seed'>>> = Object.freeze({
  layout: 'official',
  depth: 101,
  width: 1,
  numClasses: 19,
  variant: 'full',
  keyChannels: 256,
  valueChannels: 256,
  contextChannels: 512,
  sizes: [1, 3, 6, 8],
  sampling: 'pyramid-avg',
  dropout: 0.05,
  auxChannels: 512,
  auxDropout: 0.05,
});

const FIELDS = [...Object.keys(DEFAULT_CONFIG), 'seed'];

function oneOf<T>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T))
    throw new Error(`ANN config: ${field} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function positiveInt(field: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1)
    throw new Error(`ANN config: ${field} must be a positive integer, got ${JSON.stringify(value)}`);
  return value as number;
}

function probability(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1))
    throw new Error(`ANN config: ${field} must be a number in [0, 1), got ${JSON.stringify(value)}`);
  return value;
}

function checkSizes(sizes: unknown, sampling: ANNSampling): number[] {
  if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((n) => Number.isInteger(n) && n >= 1))
    throw new Error(`ANN config: sizes must be a non-empty list of positive integers, got ${JSON.stringify(sizes)}`);
  if (sampling.startsWith('plain-') && sizes.length !== 1)
    throw new Error(`ANN config: sampling '${sampling}' takes one size n (S = n^2 anchors), got sizes ${JSON.stringify(sizes)}`);
  return [...sizes];
}

/** Checks a config and fills in the defaults; throws naming the first bad field. */
export function resolveConfig(config: ANNConfig = {}): ResolvedANNConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new Error(`ANN config: expected an object, got ${JSON.stringify(config)}`);
  for (const key of Object.keys(config))
    if (!FIELDS.includes(key)) throw new Error(`ANN config: unknown field '${key}' (expected one of ${FIELDS.join(', ')})`);
  const c = { ...DEFAULT_CONFIG, ...stripUndefined(config) };
  const width = c.width;
  if (typeof width !== 'number' || !Number.isFinite(width) || width <= 0)
    throw new Error(`ANN config: width must be a positive number, got ${JSON.stringify(width)}`);
  const sampling = oneOf('sampling', c.sampling, SAMPLINGS);
  const out: ResolvedANNConfig = {
    layout: oneOf('layout', c.layout, LAYOUTS),
    depth: oneOf('depth', c.depth, DEPTHS),
    width,
    numClasses: positiveInt('numClasses', c.numClasses),
    variant: oneOf('variant', c.variant, VARIANTS),
    keyChannels: positiveInt('keyChannels', c.keyChannels),
    valueChannels: positiveInt('valueChannels', c.valueChannels),
    contextChannels: positiveInt('contextChannels', c.contextChannels),
    sizes: checkSizes(c.sizes, sampling),
    sampling,
    dropout: probability('dropout', c.dropout),
    auxChannels: positiveInt('auxChannels', c.auxChannels),
    auxDropout: probability('auxDropout', c.auxDropout),
  };
  if (config.seed !== undefined) {
    if (!Number.isSafeInteger(config.seed) || config.seed < 0)
      throw new Error(`ANN config: seed must be a non-negative integer, got ${JSON.stringify(config.seed)}`);
    out.seed = config.seed;
  }
  return out;
}

function stripUndefined(config: ANNConfig): ANNConfig {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
}

/**
 * The fields in which two configs differ, as 'field: a vs b' lines; the seed is left out, since
 * it decides only the initial values, not the network.
 */
export function configDifferences(a: ResolvedANNConfig, b: ResolvedANNConfig): string[] {
  const diff: string[] = [];
  for (const key of Object.keys(DEFAULT_CONFIG) as (keyof typeof DEFAULT_CONFIG)[])
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) diff.push(`${key}: ${JSON.stringify(a[key])} vs ${JSON.stringify(b[key])}`);
  return diff;
}
