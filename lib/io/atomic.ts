// Files a user keeps (plots, reports, JSON) are written whole or not at all: a temporary file in
// the same folder, then a rename, so an interrupted run never leaves half a file behind.
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The temporary file an atomic write of `path` goes through: same folder, so the rename is atomic. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** Lands `path` through its temporary file: `fill(tmp)` writes it, then a rename; nothing is left on failure. */
function throughTemp(path: string, fill: (tmp: string) => void): void {
  const tmp = tempPathFor(path);
  try {
    fill(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes `data` to `path` atomically, creating the folder if needed. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  throughTemp(path, (tmp) => writeFileSync(tmp, data));
}

/** Copies `from` to `to` atomically. */
export function copyFileAtomic(from: string, to: string): void {
  throughTemp(to, (tmp) => copyFileSync(from, tmp));
}
