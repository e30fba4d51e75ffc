// How well does a neighbourhood decide count-scenes' tokens? For each token pixel, the majority of
// the discs whose centres lie within R px, against the label (ties count half).
import { CountScenes } from './count-scenes.js';
const n = Number(process.argv[2] ?? 200);
const size = Number(process.argv[3] ?? 64);
const ds = new CountScenes(n, 1, size);
const radii = [8, 16, 24, 32, 48, 1000];
const agree = radii.map(() => 0);
let px = 0;
let discs = 0;
for (let i = 0; i < n; i++) {
  const s = ds.sample(i);
  discs += s.reds.length + s.blues.length;
  for (let p = 0; p < size * size; p++) {
    if (s.label[p] < 5) continue;
    const x = (p % size) + 0.5;
    const y = Math.floor(p / size) + 0.5;
    const truthRed = s.label[p] === 5;
    px++;
    radii.forEach((R, k) => {
      const r = s.reds.filter((d) => Math.hypot(d.cx - x, d.cy - y) <= R).length;
      const b = s.blues.filter((d) => Math.hypot(d.cx - x, d.cy - y) <= R).length;
      agree[k] += r === b ? 0.5 : r > b === truthRed ? 1 : 0;
    });
  }
}
console.log(`${n} scenes of ${size}, ${(discs / n).toFixed(1)} discs each; token pixels whose neighbourhood majority agrees:`);
radii.forEach((R, k) => console.log(`  R ${R}: ${((100 * agree[k]) / px).toFixed(1)}%`));
