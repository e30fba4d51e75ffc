#!/usr/bin/env bash
# The GPU run, prepared (issue 9, section 4). On the GPU machine (one H100/H200, nvcc, cmake,
# PyTorch, no Node, no network), from the repository root, in well under 10 minutes (every step has a
# time limit, and all of them share ANN_GPU_CHECK_BUDGET seconds, default 540; 1800 emulated):
#
#   scripts/gpu-check.sh              with Node (gpu-carry/ from scripts/gpu-carry.sh, ANN_NODE_XZ, or
#                                     node on PATH) and node_modules: one CMake build of the CUDA addon
#                                     and native/tests for this GPU; without: native/tests alone, by
#                                     nvcc and g++ from globs. Then native/tests (every CUDA kernel
#                                     against the CPU kernel at the parity shapes and the paper's sizes,
#                                     timed); the parity suite with ANN_SEG_DEVICE=cuda (the committed
#                                     PyTorch fixtures); and the benchmarks beside PyTorch on the same
#                                     GPU: bench kernels pool attention, bench step, bench blocks (float32,
#                                     then APNB and AFNB in TF32), each as JSON under $OUT.
#   scripts/gpu-check.sh --emulate    the same steps on the emulated CUDA build, here, without a GPU
#                                     (how CI tests this script's logic; benchmarks as --quick smoke runs).
#
# Environment: OUT (results folder; default gpu-check-out), ANN_NODE_XZ (a node-v*-linux-x64.tar.xz or
# an xz-compressed node binary), ANN_OPENBLAS_DIR (cblas.h + libopenblas.a, if not gpu-carry's or the
# Debian paths), ANN_GPU_CHECK_PARITY (test files for the parity step; default every file using
# helpers/parity), ANN_GPU_CHECK_FULL=0 (parity shapes only in native/tests), ANN_GPU_CHECK_BUDGET.
# Writes $OUT/summary.json ({mode, ok, seconds, steps: [{name, status, seconds, detail}], native-tests,
# bench}) and each step's output beside it; exits 1 when a step that ran failed. A step that cannot
# run here (no Node, no CUDA PyTorch, no time left) is recorded as skipped, with why.
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
# 540 s on the GPU (the run tool's 600 s per command, less the start); the emulator on CI's few cores
# builds native/tests at -O1 and runs everything on fibers, so it gets longer.
budget_default=540
[ "$mode" = emulate ] && budget_default=1800
budget=${ANN_GPU_CHECK_BUDGET:-$budget_default}
deadline=$((SECONDS + budget))
# step NAME TIMEOUT_S CMD...: runs CMD (a command, or a function of this script) with a time limit
# (cut to what is left of the budget), its output to $OUT/NAME.log
step() {
  local name=$1 limit=$2 t0=$SECONDS rc=0
  shift 2
  local left=$((deadline - SECONDS))
  if [ $left -lt 15 ]; then
    record "$name" skipped 0 "out of the ${budget} s budget"
    return 1
  fi
  [ "$limit" -gt $left ] && limit=$left
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

# unxz_tar FILE DIR: a .tar.xz unpacked into DIR, by tar -J where xz exists, else by Python's
# tarfile (the GPU machine may lack xz).
unxz_tar() {
  mkdir -p "$2"
  if command -v xz >/dev/null; then
    tar -xJf "$1" -C "$2"
  else
    /usr/bin/env python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
  fi
}

# --- what gpu-carry/ brings (scripts/gpu-carry.sh): Node, OpenBLAS, dist/ and node_modules/ ---
carry=$root/gpu-carry
t_carry=$SECONDS
if [ -d "$carry" ]; then
  [ -z "${ANN_NODE_XZ:-}" ] && [ -f "$carry/node-linux-x64.tar.xz" ] && ANN_NODE_XZ=$carry/node-linux-x64.tar.xz
  if [ -z "${ANN_OPENBLAS_DIR:-}" ] && [ -f "$carry/openblas.tar.xz" ] && unxz_tar "$carry/openblas.tar.xz" "$work/openblas"; then
    export ANN_OPENBLAS_DIR=$work/openblas
  fi
  if [ -f "$carry/js.tar.xz" ] && [ ! -d node_modules ]; then
    unxz_tar "$carry/js.tar.xz" "$root" || record carry failed 0 "cannot unpack $carry/js.tar.xz"
  fi
  record carry ok $((SECONDS - t_carry)) "$(ls "$carry" | tr '\n' ' ')"
fi

# --- the toolchain and the GPU ---
blas_dir=${ANN_OPENBLAS_DIR:-}
if [ -z "$blas_dir" ]; then
  for d in /usr/lib/x86_64-linux-gnu/openblas-pthread; do [ -f "$d/libopenblas.a" ] && blas_dir=$d; done
fi
blas_inc=$blas_dir
[ -f "$blas_inc/cblas.h" ] || blas_inc=/usr/include/x86_64-linux-gnu/openblas-pthread
if [ -z "$blas_dir" ] || [ ! -f "$blas_inc/cblas.h" ]; then
  record toolchain failed 0 "no OpenBLAS (cblas.h + libopenblas.a): set ANN_OPENBLAS_DIR or bring gpu-carry/ (the CPU kernels, the reference, need it)"
  blas_dir=""
fi
cuda_home=${CUDA_HOME:-/usr/local/cuda}
arch=90
if [ "$mode" = cuda ]; then
  if gpu=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1); then
    echo "$gpu" >"$OUT/gpu.txt"
    cap=$(echo "$gpu" | head -1 | cut -d, -f2 | tr -d ' .')
    [ -n "$cap" ] && arch=$cap
    record toolchain ok 0 "$gpu; nvcc $("$cuda_home/bin/nvcc" --version | tail -1); cmake $(cmake --version 2>/dev/null | head -1 | awk '{print $3}'); building for sm_$arch"
  else
    record toolchain failed 0 "nvidia-smi: $gpu"
  fi
else
  record toolchain ok 0 "emulated CUDA on $(nproc) CPUs; g++ $(g++ -dumpversion)"
fi

# --- Node: a node-v*-linux-x64.tar.xz (bin/node, include/node), a bare xz'd binary, or node on PATH ---
node_bin=""
if [ -n "${ANN_NODE_XZ:-}" ] && [ -f "$ANN_NODE_XZ" ]; then
  if unxz_tar "$ANN_NODE_XZ" "$work/node" 2>/dev/null; then
    # node-v*-linux-x64/ at the top (nodejs.org's tarballs) or bin/ itself (gpu-carry's)
    [ -d "$work/node/bin" ] || node_bin=$(ls "$work"/node/*/bin/node 2>/dev/null | head -1)
    [ -z "$node_bin" ] && node_bin=$work/node/bin/node
  else
    mkdir -p "$work/node"
    if command -v xz >/dev/null; then
      xz -dc "$ANN_NODE_XZ" >"$work/node/node"
    else
      /usr/bin/env python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$ANN_NODE_XZ" "$work/node/node"
    fi
    chmod +x "$work/node/node"
    node_bin=$work/node/node
  fi
  if ! "$node_bin" --version >/dev/null 2>&1; then
    record node failed 0 "$ANN_NODE_XZ unpacked, but $node_bin does not run"
    node_bin=""
  fi
elif command -v node >/dev/null; then
  node_bin=$(command -v node)
fi
have_js=0
if [ -n "$node_bin" ]; then
  export PATH="$(dirname "$node_bin"):$PATH"
  [ -d node_modules/node-addon-api ] && [ -x node_modules/.bin/vitest ] && [ -f dist/lib/cli/main.js ] && have_js=1
fi

# --- the source lists: scripts/native-sources.mjs's, mirrored as globs for the build without Node ---
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

# native/tests without Node or CMake (nvcc and g++ over the globs).
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

# With Node: one CMake build makes the addon and native/tests from the same objects (one nvcc pass).
build_cmake() {
  local node_inc flag
  node_inc=$(dirname "$(dirname "$node_bin")")/include/node
  [ -d "$node_inc" ] || node_inc=$(ls -d "$HOME"/.cache/node-gyp/*/include/node 2>/dev/null | tail -1)
  [ -d "$node_inc" ] || { echo "no Node headers (include/node beside the node binary)"; return 1; }
  flag=-DANN_CUDA=ON
  [ "$mode" = emulate ] && flag=-DANN_CUDA_EMULATE=ON
  cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release $flag -DCMAKE_JS_INC="$node_inc" -DANN_CUDA_ARCHS="$arch" \
    -DCMAKE_CUDA_COMPILER="$cuda_home/bin/nvcc" && cmake --build "$work/build" -j "$jobs" &&
    cp "$(find "$work/build" -name ann_cuda_tests -type f | head -1)" "$work/ann_cuda_tests"
}

export mode work jobs blas_dir blas_inc cuda_home arch kernel_sources cuda_sources emu_sources test_sources OUT node_bin
tests_ok=0
addon=""
build_limit=300
[ "$mode" = emulate ] && build_limit=900
if [ -n "$blas_dir" ]; then
  if [ "$mode" = emulate ] && [ -n "${ANN_SEG_ADDON:-}" ]; then
    # CI built the emulated addon already; the script's own build of native/tests is what is tested.
    addon=$ANN_SEG_ADDON
    record addon ok 0 "the emulated addon given: $addon"
    step build-native-tests $build_limit build_tests && tests_ok=1
  elif [ $have_js = 1 ]; then
    if step build $build_limit build_cmake; then
      tests_ok=1
      addon=$(find "$work/build" -name ann_seg.node | head -1)
    fi
  else
    step build-native-tests $build_limit build_tests && tests_ok=1
  fi
fi

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

torch_cuda=0
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && torch_cuda=1

# --- without Node: PyTorch's CUDA numbers for Table 1 alone (C = 2048, key 256, 256x128; AFNB: low 1024) ---
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

# --- with Node: the parity suite on the CUDA addon, and the benchmarks beside PyTorch ---
if [ -z "$node_bin" ]; then
  record parity skipped 0 "no Node (bring gpu-carry/ from scripts/gpu-carry.sh, or set ANN_NODE_XZ)"
  if [ $torch_cuda = 1 ]; then step torch-blocks 120 torch_blocks; else record torch-blocks skipped 0 "PyTorch here has no CUDA device"; fi
elif [ $have_js = 0 ]; then
  record parity skipped 0 "no node_modules and dist/ (gpu-carry/js.tar.xz brings them)"
elif [ -z "$addon" ]; then
  record parity skipped 0 "no CUDA addon (its build failed)"
else
  files=${ANN_GPU_CHECK_PARITY:-$(grep -l helpers/parity test/*.test.ts | tr '\n' ' ')}
  # shellcheck disable=SC2086
  step parity 240 env ANN_SEG_DEVICE=cuda ANN_SEG_ADDON="$addon" node_modules/.bin/vitest run $files \
    --reporter=default --reporter=json --outputFile="$OUT/parity.json"
  export addon
  bench() { env ANN_SEG_ADDON="$addon" "$node_bin" bin/ann-seg.js bench "$@"; }
  if [ "$mode" = cuda ]; then
    torch=""
    if [ $torch_cuda = 1 ]; then torch=--torch; else record bench-torch skipped 0 "PyTorch here has no CUDA device: our numbers alone"; fi
    # The two fused kernels (pyramid pooling; attention at S = 110 and S = N), a training step of the
    # small preset at batch 8 x 256^2 (OHEM active: more pixels than its minKept), Table 1.
    step bench-kernels 120 bench kernels pool attention --device cuda $torch --json "$OUT/bench-kernels.json"
    step bench-step 90 bench step --crop 256 --device cuda $torch --json "$OUT/bench-step.json"
    step bench-blocks 150 bench blocks --device cuda $torch --json "$OUT/bench-blocks.json"
    step bench-blocks-tf32 90 bench blocks --only APNB,AFNB --device cuda --tf32 $torch --json "$OUT/bench-blocks-tf32.json"
  else
    # The same command lines as smoke runs on the emulator (its timings mean nothing; no CUDA PyTorch here).
    step bench-kernels 120 bench kernels pool --filter 'pyramidPool avg fwd ' --quick --device cuda --json "$OUT/bench-kernels.json"
    step bench-step 200 bench step --quick --device cuda --json "$OUT/bench-step.json"
    step bench-blocks-tf32 200 bench blocks --quick --only APNB --device cuda --tf32 --json "$OUT/bench-blocks-tf32.json"
  fi
fi

/usr/bin/env python3 - "$steps" "$OUT" "$mode" "$SECONDS" <<'EOF'
import json, os, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out_dir = sys.argv[2]
out = {"mode": sys.argv[3], "ok": all(s["status"] != "failed" for s in steps), "seconds": int(sys.argv[4]), "steps": steps}
def load(name):
    try:
        return json.load(open(os.path.join(out_dir, name)))
    except (OSError, ValueError):
        return None
for name in ("native-tests", "native-tests-reverse"):
    if (r := load(f"{name}.json")) is not None:
        out[name] = r
bench = {n: r for n in ("kernels", "step", "blocks", "blocks-tf32") if (r := load(f"bench-{n}.json")) is not None}
if bench:
    out["bench"] = bench
json.dump(out, open(os.path.join(out_dir, "summary.json"), "w"), indent=1)
EOF
rm -f "$steps"
log "summary: $OUT/summary.json ($([ $failed = 0 ] && echo ok || echo FAILED)) in $SECONDS s"
exit $failed
