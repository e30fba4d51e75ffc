#!/usr/bin/env bash
# CI for the CUDA backend on a machine without a GPU (issue 9): the real CUDA addon must compile, link
# and load without a driver (reporting why CUDA is unavailable, the CPU backend working); the emulated
# build (the same .cu sources as host C++) runs native/tests in both block orders and the parity
# suite with every tensor on the CUDA device; scripts/gpu-check.sh --emulate tests the GPU run's
# logic. Prints each part's time, since CI must stay well under 30 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
lap() { echo "== cuda ci: $1 in $((SECONDS - t0)) s" && t0=$SECONDS; }

npm run build:cuda
ANN_SEG_ADDON="$PWD/build-cuda/Release/ann_seg.node" node -e "
  const info = require('./build-cuda/Release/ann_seg.node').info();
  if (!String(info.cuda).startsWith('unavailable')) throw new Error('expected CUDA unavailable without a GPU, got ' + info.cuda);
  console.log('CUDA addon without a GPU: cuda ' + info.cuda);"
ANN_SEG_ADDON="$PWD/build-cuda/Release/ann_seg.node" npx vitest run --reporter=default test/core.test.ts test/build.test.ts
lap "CUDA build (nvcc, sm_80 + sm_90) and its load without a driver"

npm run build:cuda-emu
lap "emulated CUDA build"
build-emu/ann_cuda_tests >build-emu/native-tests.json
ANN_CUDA_EMU_REVERSE=1 build-emu/ann_cuda_tests >build-emu/native-tests-reverse.json
lap "native/tests on the emulator, both block orders"

mapfile -t files < <(grep -l "helpers/parity" test/*.test.ts)
ANN_SEG_DEVICE=cuda ANN_SEG_ADDON="$PWD/build-emu/Release/ann_seg.node" npx vitest run --reporter=default "${files[@]}"
lap "the parity suite on CUDA tensors (emulated)"

# Its native build and native/tests again, through the script; one parity file stands for the suite.
OUT="$PWD/build-emu/gpu-check" ANN_SEG_ADDON="$PWD/build-emu/Release/ann_seg.node" \
  ANN_GPU_CHECK_PARITY=test/elementwise.test.ts scripts/gpu-check.sh --emulate
lap "scripts/gpu-check.sh --emulate"
