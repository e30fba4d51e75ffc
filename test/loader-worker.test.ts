// The loader's worker thread (compiled code only, so this test loads dist/, which `npm ci` builds):
// it must hand out the bytes the in-thread path does, batch for batch, and fail as that path does.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = join(__dirname, '..', 'dist', 'lib', 'index.js');

describe('DataLoader worker thread', () => {
  it('is built beside the loader', () => {
    expect(existsSync(join(__dirname, '..', 'dist', 'lib', 'data', 'prepare-worker.js'))).toBe(true);
  });

  it.each([
    ['scenes', { length: 40 }, 48],
    ['strips', { length: 40, layout: 'strips' as const }, [64, 256] as [number, number]],
  ])('%s: batches are byte-identical to the in-thread path, from any start batch', async (_, options, crop) => {
    const { data } = (await import(DIST)) as typeof import('../lib/index.js');
    for (const startBatch of [0, 7]) {
      const make = (worker: boolean) => new data.DataLoader(data.synthetic(options), { batchSize: 3, crop, seed: 5, startBatch, worker });
      const [a, b] = [make(true), make(false)];
      try {
        for (let k = 0; k < 16; k++) {
          const [x, y] = [await a.next(), await b.next()];
          expect(x.index).toBe(y.index);
          expect(x.names).toEqual(y.names);
          expect(x.image.shape).toEqual(y.image.shape);
          expect(Buffer.from(x.image.toFloat32Array().buffer).equals(Buffer.from(y.image.toFloat32Array().buffer))).toBe(true);
          expect(Buffer.from(x.label.toInt32Array().buffer).equals(Buffer.from(y.label.toInt32Array().buffer))).toBe(true);
          x.dispose();
          y.dispose();
        }
      } finally {
        await a.close();
        await b.close();
      }
    }
  });

  it("a subclass of the embedded dataset is prepared in-thread, with its own sample()", async () => {
    const { data } = (await import(DIST)) as typeof import('../lib/index.js');
    class Blank extends data.SyntheticDataset {
      override sample(index: number) {
        const s = super.sample(index);
        return { ...s, label: new Uint8Array(s.label.length).fill(1) };
      }
    }
    const l = new data.DataLoader(new Blank({ length: 4 }), { batchSize: 2, crop: 32, augment: false, seed: 1 });
    const b = await l.next();
    expect(new Set(b.label.toInt32Array())).toEqual(new Set([1]));
    b.dispose();
    await l.close();
  });

  it('rejects a worker option that is not a boolean, and next() after close()', async () => {
    const { data } = (await import(DIST)) as typeof import('../lib/index.js');
    expect(() => new data.DataLoader(data.synthetic({ length: 4 }), { batchSize: 2, crop: 32, worker: 'yes' as unknown as boolean })).toThrow(/DataLoader: worker must be true or false/);
    const l = new data.DataLoader(data.synthetic({ length: 4 }), { batchSize: 2, crop: 32 });
    (await l.next()).dispose();
    await l.close();
    await expect(l.next()).rejects.toThrow(/next\(\) after close\(\)/);
  });
});
