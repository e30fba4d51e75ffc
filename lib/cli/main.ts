// The `ann-seg` command line. Commands arrive with their issues: train, eval, predict, ablate
// and bench build on the model; `info` reports what this installation can run.
import { native } from '../native/index.js';

const HELP = `usage: ann-seg <command>

commands:
  info     the native build: BLAS, threads, SIMD level, CUDA availability
  help     this text`;

function info(): number {
  const i = native.info();
  console.log(`ann-seg native addon
  blas:    ${i.blas}
  threads: ${i.threads}
  simd:    ${i.simd}
  cuda:    ${i.cuda}`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [cmd] = argv;
  switch (cmd) {
    case 'info':
      return info();
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return 0;
    default:
      console.error(`ann-seg: unknown command '${cmd}'\n\n${HELP}`);
      return 2;
  }
}
