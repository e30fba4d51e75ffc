#!/usr/bin/env bash
# The parity tests once more under each OpenBLAS kernel family and each of our SIMD levels this CPU
# has (`npm test` already ran the whole suite under the environment's settings): a user's machine
# may pick any of them, and each must stay within the tolerance rule. Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(grep -l "helpers/parity" test/*.test.ts)
current_core="${OPENBLAS_CORETYPE:-unset}"
failed=()

run() { # label, then env assignments (NAME=value, or -u NAME) for the vitest run
  local label="$1"
  shift
  echo "== parity tests: $label"
  # The default reporter only: the JSON report of the full `npm test` run stays as it is.
  if ! env "$@" npx vitest run --reporter=default "${files[@]}"; then failed+=("$label"); fi
}

cores=(Haswell Zen)
grep -qw avx512f /proc/cpuinfo && cores+=(SkylakeX) || echo "note: no AVX-512F on this CPU, so no SkylakeX run"
cores+=(unset)
for core in "${cores[@]}"; do
  [ "$core" = "$current_core" ] && continue # npm test ran this one
  if [ "$core" = unset ]; then run "OPENBLAS_CORETYPE unset" -u OPENBLAS_CORETYPE; else run "OPENBLAS_CORETYPE=$core" "OPENBLAS_CORETYPE=$core"; fi
done

# Our SIMD levels: native.info().simd is the level in use, simdLevels those this CPU has.
read -r in_use levels < <(node --input-type=module -e "
  const { native } = await import('./dist/lib/native/index.js');
  const i = native.info();
  console.log(i.simd, Array.isArray(i.simdLevels) ? i.simdLevels.join(',') : '');
")
if [ -z "${levels:-}" ]; then
  echo "note: native.info() has no simdLevels (this build cannot force ANN_SEG_SIMD); SIMD level in use: $in_use"
else
  for level in ${levels//,/ }; do
    [ "$level" = "$in_use" ] && continue # npm test ran this one
    run "ANN_SEG_SIMD=$level" "ANN_SEG_SIMD=$level"
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "parity matrix: failed under: ${failed[*]}"
  exit 1
fi
echo "parity matrix: passed under every combination"
