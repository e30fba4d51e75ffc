#!/usr/bin/env bash
# The package as a new user gets it: pack it, then run the README's install section as written (its commands,
# with the tarball in place of the registry's ann-seg, and its segment.ts) in an empty folder whose PATH holds
# only node, npm and the few coreutils those commands need: no compiler, no make, no Python. Then check what
# loaded: the prebuilt binary, needing no library beyond glibc, libstdc++ and libgcc_s (ldd), and no OpenBLAS
# mapped into the process. Once the package has a train command, the README's section must run
# `npx ann-seg train --iters 2`, and so this test does.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npm pack --pack-destination "$tmp" --json > "$tmp/pack.json"   # prepack makes the prebuild if missing or stale
tarball=$(ls "$tmp"/ann-seg-*.tgz)
node -e '
  const [p] = require(process.argv[1]);
  const paths = p.files.map((f) => f.path);
  const bad = paths.filter((f) => /^(test|bench|examples|packages|\.ci)\/|fixtures|\.py$|\.map$|CMakeLists|RESULTS/.test(f));
  const must = ["bin/ann-seg.js", "dist/lib/index.js", "dist/lib/index.d.ts", "binding.gyp", "README.md", "LICENSE",
    "prebuilds/linux-x64/ann-seg.glibc.node", "scripts/native-sources.mjs", "scripts/openblas.mjs"];
  const missing = must.filter((f) => !paths.includes(f));
  if (bad.length || missing.length) { console.error("package-test: tarball holds", bad, "and lacks", missing); process.exit(1); }
  console.log(`package-test: ${p.filename}: ${(p.size / 2 ** 20).toFixed(1)} MiB packed, ${(p.unpackedSize / 2 ** 20).toFixed(1)} MiB unpacked, ${p.entryCount} files`);
' "$tmp/pack.json"

# The user's PATH: node, npm, npx, sh (npm runs scripts with it) and what the README's commands call.
mkdir "$tmp/bin"
for tool in node npm npx sh mkdir; do ln -s "$(command -v "$tool")" "$tmp/bin/$tool"; done
for tool in cc gcc g++ c++ clang make python python3; do
  if env PATH="$tmp/bin" /bin/sh -c "command -v $tool" >/dev/null; then echo "package-test: $tool is on the test PATH" >&2; exit 1; fi
done

# The README's install section: its sh block (comments dropped, the tarball for ann-seg) and segment.ts.
section=$(awk '/^## Install/{on=1; next} /^## /{on=0} on' README.md)
awk '/^```ts/{on=1; next} /^```/{on=0} on' <<<"$section" > "$tmp/segment.ts"
commands=$(awk '/^```sh/{on=1; next} /^```/{on=0} on' <<<"$section" | sed -e 's/ *#.*$//' \
  -e "s|npm install ann-seg|npm install $tarball|" -e "s|^npx tsx segment.ts|$(command -v cp) $tmp/segment.ts . \&\& &|")
[ -s "$tmp/segment.ts" ] && grep -q "npm install $tarball" <<<"$commands" || { echo "package-test: no install section in README.md" >&2; exit 1; }
echo "package-test: running the README's install section:"
echo "$commands"
(cd "$tmp" && env -u PYTHON -u npm_config_python PATH="$tmp/bin" /bin/bash -euo pipefail -c "$commands" | tee "$tmp/out.txt")

project="$tmp/try-ann-seg"
if [ -d "$project/node_modules/ann-seg/build" ]; then echo "package-test: the install compiled something" >&2; exit 1; fi
binary=$(sed -n 's/^  binary:  //p' "$tmp/out.txt")
case "$binary" in
  "$project"/node_modules/ann-seg/prebuilds/linux-x64/ann-seg.glibc.node) ;;
  *) echo "package-test: ann-seg info reports binary '$binary', not the prebuild" >&2; exit 1 ;;
esac
echo "package-test: ldd $binary"
ldd "$binary" | tee "$tmp/ldd.txt"
if grep -vE '^\s*(linux-vdso\.so|/lib64/ld-linux-x86-64\.so|(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so)' "$tmp/ldd.txt"; then
  echo "package-test: the addon needs the libraries above" >&2
  exit 1
fi
(cd "$project" && PATH="$tmp/bin" node --input-type=module -e "
  await import('ann-seg');
  const { readFileSync } = await import('node:fs');
  const blas = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => /blas|lapack|gfortran/.test(l));
  if (blas.length) { console.error('package-test: mapped into the process:', blas); process.exit(1); }
")

# Once the package has a train command, the README's install section must run it (above).
help=$(cd "$project" && PATH="$tmp/bin" npx ann-seg --help)
if grep -q '^  train ' <<<"$help" && ! grep -q '^npx ann-seg train --iters 2' <<<"$commands"; then
  echo "package-test: ann-seg has a train command: add 'npx ann-seg train --iters 2' to the README's install section" >&2
  exit 1
fi
echo "package-test: passed in $((SECONDS - start)) s"
