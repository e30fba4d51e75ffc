// Which classes a checkpoint predicts, and in which colours: `predict` has no dataset to ask. A
// checkpoint may carry them in its metadata (classMetadata(dataset) as saveCheckpoint's `extra`);
// otherwise the dataset named by the run folder it sits in; otherwise they are numbered and
// coloured from the fixed palette.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type { SegDataset } from '../data/types.js';
import { isRGB, openDataset } from '../data/folders.js';
import { SYNTHETIC_CLASSES, SYNTHETIC_PALETTE } from '../data/synthetic.js';
import { defaultPalette, type RGB } from './overlay.js';
import { resolveTrainConfig } from './config.js';
import { RUN_FILES, type TrainConfig } from './run-folder.js';

export const CLASSES_KEY = 'ann-seg.classes';
export const PALETTE_KEY = 'ann-seg.palette';

export interface ClassInfo {
  classes: string[];
  palette: RGB[];
  /** Where they came from, for messages. */
  source: string;
}

/** The metadata entries that record a dataset's class names and colours in a checkpoint. */
export function classMetadata(dataset: Pick<SegDataset, 'classes' | 'palette'>): Record<string, string> {
  return { [CLASSES_KEY]: JSON.stringify(dataset.classes), [PALETTE_KEY]: JSON.stringify(dataset.palette) };
}

function parseList<T>(path: string, key: string, text: string, ok: (v: unknown) => boolean, numClasses: number): T[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: metadata '${key}' is not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(v) || v.length !== numClasses || !v.every(ok))
    throw new Error(`${path}: metadata '${key}' must list ${numClasses} entries, got ${text.slice(0, 80)}`);
  return v as T[];
}

/**
 * The config of the run a checkpoint belongs to, when it lies in a run folder's checkpoints/
 * (<run>/checkpoints/x.safetensors beside <run>/config.json); null when there is none or it is not
 * a valid run config.
 */
export function runConfigOf(checkpoint: string): TrainConfig | null {
  const path = join(dirname(dirname(checkpoint)), RUN_FILES.config);
  if (!existsSync(path)) return null;
  try {
    return resolveTrainConfig(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return null;
  }
}

/**
 * The class names and palette for a checkpoint of `numClasses` classes: from its metadata; else
 * from the dataset its run folder's config.json names (when it has that many classes); else
 * numbered names and defaultPalette.
 */
export function checkpointClasses(path: string, metadata: Record<string, string>, numClasses: number): ClassInfo {
  if (metadata[CLASSES_KEY] !== undefined) {
    const classes = parseList<string>(path, CLASSES_KEY, metadata[CLASSES_KEY], (s) => typeof s === 'string', numClasses);
    const palette =
      metadata[PALETTE_KEY] !== undefined ? parseList<RGB>(path, PALETTE_KEY, metadata[PALETTE_KEY], isRGB, numClasses) : defaultPalette(numClasses);
    return { classes, palette, source: 'checkpoint' };
  }
  const data = runConfigOf(path)?.data;
  if (data === 'synthetic' && SYNTHETIC_CLASSES.length === numClasses)
    return { classes: [...SYNTHETIC_CLASSES], palette: SYNTHETIC_PALETTE.map((c) => [c[0], c[1], c[2]] as RGB), source: 'the run config (embedded dataset)' };
  if (data !== undefined && data !== 'synthetic') {
    let folder: { classes: readonly string[]; palette: readonly (readonly number[])[] } | null = null;
    try {
      folder = openDataset(data);
    } catch {
      // The run's data folder moved or is gone: fall back to numbered classes.
    }
    if (folder && folder.classes.length === numClasses)
      return { classes: [...folder.classes], palette: folder.palette.map((c) => [c[0], c[1], c[2]] as RGB), source: `the run's data (${data})` };
  }
  return { classes: Array.from({ length: numClasses }, (_, i) => `class ${i}`), palette: defaultPalette(numClasses), source: 'default' };
}
