#!/usr/bin/env bash
# The GPU run, prepared (issue 9, section 4). On the GPU machine (one H100/H200, nvcc, cmake,
# PyTorch, no Node, no network), from the repository root, in under 5 minutes:
#
#   scripts/gpu-check.sh              build native/tests for this GPU; check every CUDA kernel against
#                                     the CPU kernel at the parity shapes and the paper's sizes, timed;
#                                     PyTorch's CUDA numbers for the paper's Table 1 blocks;
#                                     with Node (ANN_NODE_XZ or node on PATH, and node_modules): the CUDA
#                                     addon, the parity suite with ANN_SEG_DEVICE=cuda and
#                                     `ann-seg bench blocks --device cuda`.
#   scripts/gpu-check.sh --emulate    the same steps on the emulated CUDA build, here, without a GPU
#                                     (how CI tests this script's logic).
#
# Environment: OUT (results folder; default gpu-check-out), ANN_NODE_XZ (a node-v*-linux-x64.tar.xz or
# an xz-compressed node binary), ANN_OPENBLAS_DIR (cblas.h + libopenblas.a, if not the Debian paths),
# ANN_GPU_CHECK_PARITY (test files for the parity step; default every file using helpers/parity),
# ANN_GPU_CHECK_FULL=0 (parity shapes only in native/tests).
# Writes $OUT/summary.json ({steps: [{name, ok, seconds, detail}]}) and each step's output beside it;
# exits 1 when a step that ran failed. A step that cannot run here (no Node, no CUDA PyTorch) is
# recorded as skipped, with why.
set -uo pipefail
export LC_ALL=C  # the sort order of scripts/native-sources.mjs
cd "$(dirname "$0")/.."
root=$PWD
mode=cuda
[ "${1:-}" = "--emulate" ] && mode=emulate
OUT=${OUT:-$root/gpu-check-out}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=$(nproc)
steps="$OUT/steps.jsonl"
: >"$steps"
failed=0

log() { echo "[gpu-check $(date -u +%T)] $*" >&2; }
# record NAME STATUS(ok|failed|skipped) SECONDS DETAIL
record() {
  /usr/bin/env python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "status": sys.argv[2], "seconds": round(float(sys.argv[3]), 1), "detail": sys.argv[4]}))' \
    "$1" "$2" "$3" "$4" >>"$steps"
  [ "$2" = failed ] && failed=1
  log "$1: $2 ($3 s) $4"
}
# step NAME TIMEOUT_S CMD...: runs CMD (a command, or a function of this script) with a time limit,
# its output to $OUT/NAME.log
step() {
  local name=$1 limit=$2 t0=$SECONDS rc=0
  shift 2
  if declare -F "$1" >/dev/null; then
    timeout "$limit" bash -c "$(declare -f "$1"); $(printf '%q ' "$@")" >"$OUT/$name.log" 2>&1 || rc=$?
  else
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  fi
  if [ $rc = 0 ]; then
    record "$name" ok $((SECONDS - t0)) "$OUT/$name.log"
    return 0
  fi
  record "$name" failed $((SECONDS - t0)) "exit $rc$([ $rc = 124 ] && echo " (over ${limit} s)"); $(tail -c 600 "$OUT/$name.log" | tr '\n' ' ')"
  return 1
}

# --- the toolchain and the GPU ---
blas_dir=${ANN_OPENBLAS_DIR:-}
if [ -z "$blas_dir" ]; then
  for d in /usr/lib/x86_64-linux-gnu/openblas-pthread; do [ -f "$d/libopenblas.a" ] && blas_dir=$d; done
fi
blas_inc=$blas_dir
[ -f "$blas_inc/cblas.h" ] || blas_inc=/usr/include/x86_64-linux-gnu/openblas-pthread
if [ -z "$blas_dir" ] || [ ! -f "$blas_inc/cblas.h" ]; then
  record toolchain failed 0 "no OpenBLAS (cblas.h + libopenblas.a): set ANN_OPENBLAS_DIR (the CPU kernels, the reference, need it)"
  blas_dir=""
fi
cuda_home=${CUDA_HOME:-/usr/local/cuda}
arch=90
if [ "$mode" = cuda ]; then
  if gpu=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1); then
    echo "$gpu" >"$OUT/gpu.txt"
    cap=$(echo "$gpu" | head -1 | cut -d, -f2 | tr -d ' .')
    [ -n "$cap" ] && arch=$cap
    record toolchain ok 0 "$gpu; nvcc $("$cuda_home/bin/nvcc" --version | tail -1); building for sm_$arch"
  else
    record toolchain failed 0 "nvidia-smi: $gpu"
  fi
else
  record toolchain ok 0 "emulated CUDA on $(nproc) CPUs; g++ $(g++ -dumpversion)"
fi

# --- native/tests, without Node or CMake: the source lists are scripts/native-sources.mjs's,
# mirrored here as globs (checked against it below whenever Node is there) ---
node_bin=""
if [ -n "${ANN_NODE_XZ:-}" ] && [ -f "$ANN_NODE_XZ" ]; then
  mkdir -p "$work/node"
  if tar -xJf "$ANN_NODE_XZ" -C "$work/node" --strip-components=1 2>/dev/null; then
    node_bin=$work/node/bin/node
  else
    xz -dc "$ANN_NODE_XZ" >"$work/node/node" && chmod +x "$work/node/node" && node_bin=$work/node/node
  fi
elif command -v node >/dev/null; then
  node_bin=$(command -v node)
fi
kernel_sources=$(ls native/cpu/*.cpp | sort)
cuda_sources=$(ls native/cuda/*.cu 2>/dev/null; ls native/cuda/*.cpp)
emu_sources=$(ls native/cuda/emu/*.cpp)
test_sources=$(ls native/tests/*.cpp | sort)
if [ -n "$node_bin" ]; then
  want_cpu=$("$node_bin" scripts/native-sources.mjs cpu | tr ' ' '\n' | grep '^native/cpu/' | sort)
  want_cuda=$("$node_bin" scripts/native-sources.mjs cuda | tr ' ' '\n')
  if [ "$want_cpu" != "$kernel_sources" ] || [ "$want_cuda" != "$cuda_sources" ]; then
    record sources failed 0 "the globs here differ from scripts/native-sources.mjs"
  fi
fi

build_tests() {
  local obj=$work/obj defs flags
  mkdir -p "$obj"
  defs="-DANN_WITH_CUDA=1"
  [ "$mode" = emulate ] && defs="$defs -DANN_CUDA_EMULATE=1"
  # -O1 when emulating: this only tests the script's logic, on a machine of few cores.
  local opt=-O3
  [ "$mode" = emulate ] && opt=-O1
  flags="-std=c++17 $opt -fexceptions -Wno-psabi -Inative/include -Inative/cuda -I$blas_inc -I$cuda_home/include $defs"
  local list=()
  for f in $kernel_sources $test_sources; do list+=("g++ $flags -c $f -o $obj/$(echo "$f" | tr / _).o"); done
  for f in $cuda_sources; do
    case "$f" in
      *.cu)
        if [ "$mode" = emulate ]; then
          list+=("g++ -x c++ $flags -c $f -o $obj/$(echo "$f" | tr / _).o")
        else
          list+=("$cuda_home/bin/nvcc -std=c++17 -O3 -arch=sm_$arch --expt-relaxed-constexpr -Xcompiler=-fexceptions $defs -Inative/include -Inative/cuda -I$blas_inc -c $f -o $obj/$(echo "$f" | tr / _).o")
        fi
        ;;
      *) list+=("g++ $flags -c $f -o $obj/$(echo "$f" | tr / _).o") ;;
    esac
  done
  if [ "$mode" = emulate ]; then
    for f in $emu_sources; do list+=("g++ $flags -c $f -o $obj/$(echo "$f" | tr / _).o"); done
  fi
  printf '%s\n' "${list[@]}" | xargs -P "$jobs" -I{} sh -c '{}' || return 1
  local libs="$blas_dir/libopenblas.a -lpthread -lm -ldl"
  [ "$mode" = cuda ] && libs="-L$cuda_home/lib64 -lcudart_static -lrt $libs"
  g++ -o "$work/ann_cuda_tests" "$obj"/*.o $libs
}

export mode work jobs blas_dir blas_inc cuda_home arch kernel_sources cuda_sources emu_sources test_sources OUT
tests_ok=0
build_limit=240
[ "$mode" = emulate ] && build_limit=900
if [ -n "$blas_dir" ] && step build-native-tests $build_limit build_tests; then tests_ok=1; fi

if [ $tests_ok = 1 ]; then
  if [ "$mode" = cuda ]; then
    full=--full
    [ "${ANN_GPU_CHECK_FULL:-1}" = 0 ] && full=""
    step native-tests 150 sh -c "'$work/ann_cuda_tests' $full --time >'$OUT/native-tests.json'"
  else
    step native-tests 150 sh -c "'$work/ann_cuda_tests' >'$OUT/native-tests.json'"
    step native-tests-reverse 150 sh -c "ANN_CUDA_EMU_REVERSE=1 '$work/ann_cuda_tests' >'$OUT/native-tests-reverse.json'"
  fi
fi

# --- PyTorch's CUDA numbers for Table 1 (C = 2048, key 256, 256x128; AFNB: low 1024, high 2048) ---
torch_blocks() {
  local tf32
  for tf32 in false true; do
    for c in 'NB fwd 2048' 'APNB fwd 2048' 'APNB fwd+bwd 2048' 'FNB fwd 1024' 'AFNB fwd 1024' 'AFNB fwd+bwd 1024'; do
      set -- $c
      /usr/bin/env python3 bench/torch/blocks.py \
        "{\"kind\":\"$1\",\"mode\":\"$2\",\"height\":256,\"width\":128,\"lowChannels\":$3,\"highChannels\":2048,\"outChannels\":2048,\"keyChannels\":256,\"valueChannels\":256}" \
        "{\"device\":\"cuda\",\"tf32\":$tf32,\"budgetMs\":1000,\"maxRuns\":20}" || return 1
    done
  done >"$OUT/torch-blocks.jsonl"
}
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  step torch-blocks 120 torch_blocks
else
  record torch-blocks skipped 0 "PyTorch here has no CUDA device"
fi

# --- with Node: the CUDA addon, the parity suite on it, and bench blocks --device cuda ---
if [ -z "$node_bin" ]; then
  record addon skipped 0 "no Node (set ANN_NODE_XZ to a node-v*-linux-x64.tar.xz)"
elif [ ! -d node_modules/node-addon-api ] || [ ! -x node_modules/.bin/vitest ]; then
  record addon skipped 0 "no node_modules (node-addon-api and vitest must be carried with the tree)"
else
  export PATH="$(dirname "$node_bin"):$PATH"
  addon=""
  if [ "$mode" = emulate ] && [ -n "${ANN_SEG_ADDON:-}" ]; then
    addon=$ANN_SEG_ADDON
    record addon ok 0 "the emulated addon given: $addon"
  else
    node_inc=$(dirname "$(dirname "$node_bin")")/include/node
    [ -d "$node_inc" ] || node_inc=$(ls -d "$HOME"/.cache/node-gyp/*/include/node 2>/dev/null | tail -1)
    flag=-DANN_CUDA=ON
    [ "$mode" = emulate ] && flag=-DANN_CUDA_EMULATE=ON
    if step addon 240 sh -c "cmake -S . -B '$work/addon' -DCMAKE_BUILD_TYPE=Release $flag -DCMAKE_JS_INC='$node_inc' -DANN_CUDA_ARCHS=$arch && cmake --build '$work/addon' -j $jobs"; then
      addon=$work/addon/ann_seg.node
      [ -f "$addon" ] || addon=$(find "$work/addon" -name ann_seg.node | head -1)
    fi
  fi
  if [ -n "$addon" ]; then
    files=${ANN_GPU_CHECK_PARITY:-$(grep -l helpers/parity test/*.test.ts | tr '\n' ' ')}
    # shellcheck disable=SC2086
    step parity 200 env ANN_SEG_DEVICE=cuda ANN_SEG_ADDON="$addon" node_modules/.bin/vitest run $files \
      --reporter=default --reporter=json --outputFile="$OUT/parity.json"
    if [ "$mode" = cuda ]; then
      step bench-blocks 150 sh -c "ANN_SEG_ADDON='$addon' '$node_bin' bin/ann-seg.js bench blocks --device cuda >'$OUT/bench-blocks.txt'"
    else
      record bench-blocks skipped 0 "the emulator's timings mean nothing"
    fi
  fi
fi

/usr/bin/env python3 - "$steps" "$OUT/summary.json" "$mode" <<'EOF'
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = {"mode": sys.argv[3], "ok": all(s["status"] != "failed" for s in steps), "steps": steps}
for name in ("native-tests", "native-tests-reverse"):
    try:
        out[name] = json.load(open(sys.argv[2].rsplit("/", 1)[0] + f"/{name}.json"))
    except (OSError, ValueError):
        pass
json.dump(out, open(sys.argv[2], "w"), indent=1)
EOF
rm -f "$steps"
log "summary: $OUT/summary.json ($([ $failed = 0 ] && echo ok || echo FAILED))"
exit $failed
