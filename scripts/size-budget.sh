#!/usr/bin/env bash
# Fails when what a browser downloads before the first screen is usable
# grows past the budget: the main WebAssembly, the JS glue, the split
# loader and the style sheet, compressed with brotli as served. The chunks
# loaded on first use (threads, pickers, search, dialogs) are listed with
# their sizes but not counted. Run after a release build (`cargo leptos
# build --release --precompress --split`, which `scripts/test.sh` does).
set -euo pipefail
cd "$(dirname "$0")/.."

# Set just above what is measured; lower it as the first load shrinks,
# raise it only deliberately, with the reason. The first-load issue's
# target is 200,000 with every feature in: not reachable on Leptos 0.8,
# whose router, resources and renderer alone take 174 KB (docs/
# benchmarks.md, "Fourth pass").
# 366,000 (2026-12-02, afternoon): 362,935 measured, after the outbox
# was kept in the tab's session storage across reloads (+3,537: its JSON
# reader and writer, and the storage calls).
# 362,500 (2026-12-02, third pass): 360,974 measured, after server
# functions' answers were read as text like a page's resources (one JSON
# reader per type in the WASM instead of two).
# 364,500 (2026-12-02, later): 362,877 measured, after the browser's
# reading of server events lost serde's buffering of tagged enums and a
# message became fewer reactive pieces.
# 372,000 (2026-12-02): the first load measured 370,619 here and 370,641
# in a clean clone elsewhere (source paths end up in the WASM's panic
# messages), so ~1.4 KB of room for the checkout's path; it was 447,675
# (WASM 437,603) before. Measured along the way: 370,400 (WASM 359,321)
# with the thread panel, picker, editor, members panel and quick switcher
# split off (54,781 in chunks) and components type-erased. History of the WASM-only budget this replaces:
# 260,000 (seed) -> 272,000 (durable store, identities) -> 366,000
# (conversation) -> 438,000 (awareness). docs/benchmarks.md, "First load",
# says what each step bought.
BUDGET_BYTES=${FIRST_LOAD_BROTLI_BUDGET:-366000}
pkg=target/site/pkg

sizes() { # file -> "raw gzip brotli"
  node -e '
    const fs = require("fs"), zlib = require("zlib");
    const data = fs.readFileSync(process.argv[1]);
    const br = zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
    console.log(data.length, zlib.gzipSync(data, { level: 9 }).length, br.length);
  ' "$1"
}

row() { # label file -> prints, sets $brotli
  read -r raw gzip brotli < <(sizes "$2")
  printf '%-12s %-52s raw %8d  gzip %7d  brotli %7d\n' "$1" "${2#"$pkg"/}" "$raw" "$gzip" "$brotli"
}

first=(flack.wasm flack.js flack.css)
split_loader=$(find "$pkg" -maxdepth 1 -name '__wasm_split*.js' -printf '%f\n')
[ -n "$split_loader" ] && first+=("$split_loader")
total=0
for name in "${first[@]}"; do
  row "first load" "$pkg/$name"
  total=$((total + brotli))
done
chunks=0
while IFS= read -r chunk; do
  row "on first use" "$chunk"
  chunks=$((chunks + brotli))
done < <(find "$pkg" -maxdepth 1 -name '*.wasm' ! -name flack.wasm | sort)
printf 'first load (brotli): %d bytes; chunks loaded on first use: %d bytes\n' "$total" "$chunks"
if [ "$total" -gt "$BUDGET_BYTES" ]; then
  echo "The first load is $total bytes with brotli, over its budget of $BUDGET_BYTES." >&2
  exit 1
fi
echo "The first load is $total bytes with brotli, within its budget of $BUDGET_BYTES."
