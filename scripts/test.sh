#!/usr/bin/env bash
# Sets up everything, then runs every test: the Rust unit and integration
# tests, then the Playwright suite against the real release server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
# A one-off build (CI) has no use for incremental data: it saves a GB of
# disk and some time.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

printf '\n== Rust unit and integration tests\n'
cargo test --features ssr

printf '\n== End-to-end tests (Playwright, Chromium)\n'
# The shared test server allows bigger bursts of sends, so that tests can
# post 150 messages quickly, and any number of names claimed from this one
# address; it starts on an empty database. limits.spec.ts runs its own
# server with the default limits.
rm -f target/e2e.db target/e2e.db-wal target/e2e.db-shm
FLACK_SEND_BURST=1000 FLACK_CLAIMS_PER_HOUR=0 FLACK_DATABASE=target/e2e.db \
  cargo leptos end-to-end --release --precompress --split

printf '\n== Size budget of the WebAssembly\n'
bash scripts/size-budget.sh
