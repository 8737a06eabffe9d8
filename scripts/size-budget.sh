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
# 272,000 -> 366,000 (2026-12-01): the conversation issue took the WASM
# from 269,993 to 364,776 bytes. Measured by building it without each
# feature (same commit, brotli 11): threads 23,098, reactions 16,421,
# mentions and notifications 15,341, formatting (the Markdown parser and
# its views) 8,602, editing 6,356; the five together 72,104; the rest
# (the new events in the UI state, the richer message type) ~22,700.
# The first-load issue is to bring the first screen under 200 KB by
# loading the thread panel, pickers and the like on first use.
# 366,000 -> 438,000 (2026-12-01, night): the awareness issue (unread
# counts and the "New messages" line, typing, presence and the members
# panel, direct messages, search with its results page and jumping to an
# old message, the quick switcher) took the WASM from 364,776 to 437,267
# bytes. Raised openly, not hidden: the first-load issue is next, and
# these panels (members, search results, switcher) are among the first to
# load on use rather than up front.
BUDGET_BYTES=${WASM_BROTLI_BUDGET:-438000}

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
