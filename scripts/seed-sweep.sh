#!/usr/bin/env bash
# The tolerance rule over other random data (issue 7): regenerates every fixture with other seeds into
# a temporary folder and runs the parity test files against them under two OpenBLAS core types,
# counting the tensor checks (ANN_SEG_PARITY_LOG: one line per check, test/helpers/parity.ts).
#   scripts/seed-sweep.sh [first last] [--out DIR] [--cores "Haswell SkylakeX"]   (default seeds 2..11)
# One seed at a time (fixture generation and vitest each use the whole machine). Prints per seed and
# core the checks that passed and failed, then the totals and every failing line; exit status 1 on
# any failure (a fixture script that refuses its data counts as one).
set -uo pipefail
cd "$(dirname "$0")/.."
first=2 last=11 out="" cores="Haswell SkylakeX"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --cores) cores="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -ge 1 ] && first="${args[0]}" && last="${args[1]:-${args[0]}}"
out="${out:-$(mktemp -d -t ann-seg-sweep.XXXXXX)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
mapfile -t files < <(grep -l "helpers/parity" test/*.test.ts)
refused=0
for seed in $(seq "$first" "$last"); do
  dir="$out/seed$seed"
  if [ ! -f "$dir/.complete" ]; then
    echo "== seed $seed: fixtures into $dir"
    if bash test/reference/generate.sh --seed "$seed" --out "$dir" >"$out/generate$seed.log" 2>&1; then
      touch "$dir/.complete"
    else
      echo "   some fixture scripts failed (see $out/generate$seed.log)"
      refused=$((refused + 1))
    fi
  fi
  for core in $cores; do
    log="$out/checks.seed$seed.$core.log"
    rm -f "$log"
    ANN_SEG_FIXTURES_DIR="$dir" ANN_SEG_PARITY_LOG="$log" OPENBLAS_CORETYPE="$core" \
      npx vitest run --reporter=dot "${files[@]}" >"$out/vitest.seed$seed.$core.log" 2>&1
    echo "   seed $seed $core: $(grep -c ' ok ' "$log" || true) ok, $(grep -c ' FAIL ' "$log" || true) FAIL" \
      "(vitest: $(grep -E 'Tests ' "$out/vitest.seed$seed.$core.log" | sed 's/\x1b\[[0-9;]*m//g' | xargs))"
  done
done
ok=$(cat "$out"/checks.*.log 2>/dev/null | grep -c ' ok ')
fail=$(cat "$out"/checks.*.log 2>/dev/null | grep -c ' FAIL ')
echo "== seeds $first..$last, cores $cores: $ok checks passed, $fail failed; fixture generations with a refused script: $refused"
echo "   (mutation lines are a second line for a check whose parity passed; logs in $out)"
grep -H ' FAIL ' "$out"/checks.*.log | sed "s|$out/||" | cut -c1-300
[ "$fail" -eq 0 ] && [ "$refused" -eq 0 ]
