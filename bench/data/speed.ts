// How long the data pipeline takes per example: drawing a 96 x 96 scene, augmenting it to a 64 x 64
// crop, normalising it, and a whole DataLoader batch of 8 (scenes cached after their first draw).
//   npx tsx bench/data/speed.ts
import { data } from '../../lib/index.js';
import { Generator } from '../../lib/random.js';

const N = 400;
const ds = data.synthetic({ cache: false });
for (let i = 0; i < 50; i++) ds.sample(i); // JIT warm-up
let t = performance.now();
const scenes = Array.from({ length: N }, (_, i) => ds.sample(i));
const scene = (performance.now() - t) / N;
const g = new Generator(1);
t = performance.now();
const crops = scenes.map((s) => data.augment(s, [64, 64], g));
const aug = (performance.now() - t) / N;
const out = new Float32Array(3 * 64 * 64);
t = performance.now();
for (const c of crops) data.normalizeInto(c.image, 64, 64, out);
const norm = (performance.now() - t) / N;
console.log(`per example: scene ${scene.toFixed(3)} ms, augment ${aug.toFixed(3)} ms, normalise ${norm.toFixed(3)} ms`);

const cached = data.synthetic();
for (const label of ['first epoch (drawing scenes)', 'later epochs (cached scenes)']) {
  const loader = new data.DataLoader(cached, { batchSize: 8, crop: 64, seed: 1, prefetch: 0 });
  t = performance.now();
  for (let k = 0; k < 50; k++) (await loader.next()).dispose();
  console.log(`DataLoader batch of 8, ${label}: ${((performance.now() - t) / 50).toFixed(2)} ms`);
  await loader.close();
}
