#!/usr/bin/env bash
# Packs gpu-carry/ (git-ignored) for the GPU run: what the GPU machine (nvcc, cmake, PyTorch; no Node,
# no OpenBLAS headers, no network) lacks. Hand it over with the run tool's carry: ["gpu-carry"];
# scripts/gpu-check.sh finds and unpacks it. The carry limit is 64 MiB in all; this prints the sizes.
#   node-linux-x64.tar.xz   bin/node and include/node (the addon's headers) of this machine's Node
#   openblas.tar.xz         cblas.h, openblas_config.h and the static libopenblas.a both builds link
#   js.tar.xz               dist/ (npm run build:ts first) and node_modules/ without the lint and
#                           type-checking tools, which the GPU run does not use
set -euo pipefail
cd "$(dirname "$0")/.."
out=gpu-carry
mkdir -p "$out"
npm run build:ts >/dev/null
node_bin=$(readlink -f "$(command -v node)")
prefix=$(dirname "$(dirname "$node_bin")")
[ -f "$prefix/include/node/node_api.h" ] || { echo "gpu-carry: no Node headers at $prefix/include/node" >&2; exit 1; }
tar -C "$prefix" -cf - "bin/$(basename "$node_bin")" include/node | xz -T0 -9 >"$out/node-linux-x64.tar.xz"
blas_inc=$(node scripts/openblas.mjs include)
blas_lib=$(readlink -f "$(node scripts/openblas.mjs lib)")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$blas_inc"/cblas.h "$blas_inc"/openblas_config.h "$stage/"
[ -f "$blas_inc/f77blas.h" ] && cp "$blas_inc/f77blas.h" "$stage/"
cp "$blas_lib" "$stage/libopenblas.a"
tar -C "$stage" -cf - . | xz -T0 -9 >"$out/openblas.tar.xz"
tar -cf - --exclude='node_modules/typescript' --exclude='node_modules/eslint*' --exclude='node_modules/@eslint*' \
  --exclude='node_modules/@typescript-eslint' --exclude='node_modules/typescript-eslint' --exclude='node_modules/@types' \
  --exclude='node_modules/node-gyp' --exclude='node_modules/.cache' --exclude='*.map' dist node_modules | xz -T0 -9 >"$out/js.tar.xz"
du -b "$out"/* | awk '{ t += $1; printf "%6.1f MiB  %s\n", $1 / 1048576, $2 } END { printf "%6.1f MiB  in all (the carry limit: 64 MiB)\n", t / 1048576 }'
