// Child process for the Ctrl-C test: trains the tiny run into argv[2] with the trainer's SIGINT
// handling (as `ann-seg train`), printing each iteration; exits 130 when stopped by a signal.
import { train as T } from '../../lib/index.js';
import { tinyConfig, tinyLoader } from './tiny-run.js';

const [out, iters, resume] = process.argv.slice(2);
const trainer = new T.Trainer({
  config: tinyConfig(Number(iters), { checkpointEvery: 1000 }),
  out,
  makeLoader: tinyLoader,
  resume: resume === 'resume',
  onLog: (l) => console.log(`iter ${l.iter}`),
});
T.stopOnSignal(trainer);
const r = await trainer.run();
trainer.dispose();
if (r.stopped) {
  console.log(`stopped at iteration ${r.iter}: checkpoint ${r.checkpoint}`);
  process.exit(130);
}
