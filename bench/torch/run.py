"""PyTorch's side of `ann-seg bench kernels|blocks|step`, on both allocators, as the JSON that
`ann-seg bench ... --compare FILE` reads: {"kind", "torch", "blasCore", "rows": [{"name", "ms",
"msDefault", "rssBytes", "rssBytesDefault"}]}. Each case (kernels: each family script) runs in a
fresh process per allocator:
  ms          freed memory reused: MALLOC_MMAP_MAX_=0 and MALLOC_TRIM_THRESHOLD_ at 2^62, so glibc
              keeps freed blocks in its heap and hands them out again, as a tuned user runs it
              (or a caching allocator would);
  msDefault   glibc's default: blocks above the mmap threshold are mapped and unmapped every time,
              and fresh pages fault in on every run.

Usage:
  /usr/bin/python3 bench/torch/run.py kernels [family ...] [--quick] [--device cuda] --json out.json
  /usr/bin/python3 bench/torch/run.py blocks --case '<case JSON>' [--timing '<JSON>']   (one row to stdout)
  /usr/bin/python3 bench/torch/run.py step --case '<case JSON>' [--timing '<JSON>']     (one row to stdout)
`ann-seg bench blocks|step --torch` calls the last two forms case by case, right after its own
measurement, so ours and PyTorch alternate in one run; `ann-seg bench blocks --json` writes the
cases it ran, whose rows this script's output matches by name.
OpenBLAS: Debian's torch calls the system libblas.so.3; the OpenMP OpenBLAS build, when installed,
is put first on LD_LIBRARY_PATH (it does not fight PyTorch's own threads).
On the GPU (kernels --device cuda; blocks and step with "device": "cuda" in the timing JSON) the host
allocator does not touch the timed work: one run, no msDefault.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = ["attention", "conv", "elementwise", "interp", "loss", "pool"]
OPENBLAS_OMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
REUSE = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 62)}


def env_for(reuse, quick=False):
    env = dict(os.environ)
    for k in REUSE:
        env.pop(k, None)
    if reuse:
        env.update(REUSE)
    if os.path.exists(os.path.join(OPENBLAS_OMP, "libblas.so.3")):
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (OPENBLAS_OMP, env.get("LD_LIBRARY_PATH")) if p)
    if quick:
        env["ANN_SEG_BENCH_QUICK"] = "1"
    return env


def json_lines(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def merge(reused, default):
    """One row per name: the reused-memory run's ms and RSS, the default allocator's beside them."""
    by_name = {r["name"]: r for r in default}
    rows = []
    for r in reused:
        d = by_name.get(r["name"], {})
        row = {"name": r["name"], "ms": r["ms"], "msDefault": d.get("ms")}
        if "rssBytes" in r:
            row["rssBytes"], row["rssBytesDefault"] = r["rssBytes"], d.get("rssBytes")
        rows.append(row)
    return rows


def blas_core():
    try:
        import ctypes
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def one_case(script, case, timing):
    """blocks.py or step.py for one case on both allocators (on the GPU, once): one merged row."""
    cmd = [sys.executable, os.path.join(HERE, script), case, timing]
    cuda = json.loads(timing).get("device") == "cuda"
    runs = {}
    for reuse in (True,) if cuda else (True, False):
        rows = json_lines(cmd, env_for(reuse))
        runs[reuse] = rows[-1]
    name = json.loads(case).get("name") or runs[True].get("name", script)
    if cuda:
        return {**runs[True], "name": name}
    runs[True]["name"] = runs[False]["name"] = name
    return merge([runs[True]], [runs[False]])[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["kernels", "blocks", "step"])
    ap.add_argument("families", nargs="*")
    ap.add_argument("--case")
    ap.add_argument("--timing", default="{}")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    a = ap.parse_args()
    import torch
    header = {"kind": a.kind, "torch": f"torch {torch.__version__}", "blasCore": blas_core(), "device": a.device}
    if a.case:
        script = "blocks.py" if a.kind == "blocks" else "step.py"
        print(json.dumps(one_case(script, a.case, a.timing)))
        return
    if a.kind != "kernels":
        sys.exit(f"run.py {a.kind}: give one case with --case (ann-seg bench {a.kind} --torch does, case by case)")
    rows = []
    for family in a.families or FAMILIES:
        if family not in FAMILIES:
            sys.exit(f"run.py kernels: unknown family '{family}' (expected one of {', '.join(FAMILIES)})")
        cmd = [sys.executable, os.path.join(HERE, f"{family}.py")]
        if a.device == "cuda":
            env = {**env_for(True, a.quick), "ANN_SEG_BENCH_DEVICE": "cuda"}
            rows += json_lines(cmd, env)
            print(f"{family}: cuda", file=sys.stderr)
            continue
        reused = json_lines(cmd, env_for(True, a.quick))
        default = json_lines(cmd, env_for(False, a.quick))
        rows += merge(reused, default)
        print(f"{family}: {len(reused)} cases", file=sys.stderr)
    result = {**header, "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
