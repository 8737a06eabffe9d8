#!/usr/bin/env bash
# Fails when the release site's WebAssembly, compressed with brotli (what a
# browser downloads), grows past the budget. Run after a release build
# (`cargo leptos build --release --precompress`, which `scripts/test.sh` does).
set -euo pipefail
cd "$(dirname "$0")/.."

# Set just above the size measured when the budget was introduced; raise it
# deliberately, with the reason in the commit, never silently.
# 260,000 -> 272,000 (2026-12-01): identities by number, sign-out, "Load
# older messages", the paced outbox and the link heartbeat took the WASM
# from 258,052 to 269,993 bytes. Splitting the WASM (lazy routes and
# components) is the planned way down to a 200 KB first load.
BUDGET_BYTES=${WASM_BROTLI_BUDGET:-272000}

sizes() { # file -> "raw gzip brotli"
  node -e '
    const fs = require("fs"), zlib = require("zlib");
    const data = fs.readFileSync(process.argv[1]);
    const br = zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
    console.log(data.length, zlib.gzipSync(data, { level: 9 }).length, br.length);
  ' "$1"
}

total=0
for file in target/site/pkg/flack.wasm target/site/pkg/flack.js target/site/pkg/flack.css; do
  read -r raw gzip brotli < <(sizes "$file")
  printf '%-28s raw %8d  gzip %8d  brotli %8d\n' "$file" "$raw" "$gzip" "$brotli"
  total=$((total + brotli))
  [ "$file" = target/site/pkg/flack.wasm ] && wasm=$brotli
done
printf 'first load (wasm + js + css, brotli): %d bytes\n' "$total"
if [ "$wasm" -gt "$BUDGET_BYTES" ]; then
  echo "The WASM is $wasm bytes with brotli, over its budget of $BUDGET_BYTES." >&2
  exit 1
fi
echo "The WASM is $wasm bytes with brotli, within its budget of $BUDGET_BYTES."
