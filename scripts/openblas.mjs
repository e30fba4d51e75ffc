#!/usr/bin/env node
// Finds the static OpenBLAS that both builds link: `openblas.mjs include|lib`. It is the pthread
// build, run with one BLAS thread: its serial build is not safe to call from several threads at
// once (measured: wrong products under concurrent calls), and our pool does the threading.
// Set ANN_OPENBLAS_DIR to a folder holding cblas.h and libopenblas.a to use another one.
import { existsSync } from 'node:fs';
import { arch } from 'node:process';

const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[arch] ?? `${arch}-linux-gnu`;
const candidates = [
  ...(process.env.ANN_OPENBLAS_DIR ? [{ inc: process.env.ANN_OPENBLAS_DIR, lib: process.env.ANN_OPENBLAS_DIR }] : []),
  { inc: `/usr/include/${triplet}/openblas-pthread`, lib: `/usr/lib/${triplet}/openblas-pthread` },
];
const found = candidates.find((c) => existsSync(`${c.inc}/cblas.h`) && existsSync(`${c.lib}/libopenblas.a`));
if (!found) {
  process.stderr.write(
    'ann-seg: no static OpenBLAS found. On Debian/Ubuntu run\n' +
      '  apt-get install libopenblas-dev\n' +
      'or set ANN_OPENBLAS_DIR to a folder with cblas.h and libopenblas.a.\n',
  );
  process.exit(1);
}
process.stdout.write(process.argv[2] === 'include' ? found.inc : `${found.lib}/libopenblas.a`);
