#!/usr/bin/env bash
# Regenerates every parity fixture: test/reference/generate.sh [--seed K] [--out DIR]
# --seed K: every script's seeds shifted to the K-th other stream (ANN_SEG_FIXTURE_SEED; 0 = committed);
# --out DIR: written there instead of test/fixtures (ANN_SEG_FIXTURES_DIR; the tests read it too).
# A script that refuses its data (an ill-conditioned seed, an OHEM threshold too close) is reported
# and the others still run; the exit status counts them.
set -uo pipefail
cd "$(dirname "$0")"
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) export ANN_SEG_FIXTURE_SEED="$2"; shift 2 ;;
    --out) mkdir -p "$2" && ANN_SEG_FIXTURES_DIR="$(cd "$2" && pwd)" && export ANN_SEG_FIXTURES_DIR; shift 2 ;;
    *) echo "generate.sh: unknown argument '$1' (expected --seed K, --out DIR)" >&2; exit 2 ;;
  esac
done
failed=0
for script in attention backbone blocks conv elementwise f_basic f_nn interp loss nn_state norm optim optim_schedule pool train_small ann_model; do
  if ! env -u OPENBLAS_CORETYPE /usr/bin/python3 "$script.py" >/dev/null; then
    echo "generate.sh: $script.py failed (seed ${ANN_SEG_FIXTURE_SEED:-0})" >&2
    failed=$((failed + 1))
  fi
done
exit "$failed"
