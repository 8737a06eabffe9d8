#!/usr/bin/env bash
# Lighthouse, mobile preset, against the release build (docs/benchmarks.md,
# "First load"): starts the built server on an empty database, measures "/"
# on a first visit and a channel of a returning user with 100 messages,
# RUNS times each (default 3), then stops it. Build first:
#   cargo leptos build --release --precompress --split
# Needs Chromium (scripts/setup.sh installs it); installs Lighthouse here.
# FLACK_BINARY: another build of the server to measure (default
# target/release/flack), e.g. a copy of an earlier build, for before/after.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
(cd scripts/lighthouse && npm ci --no-audit --no-fund --silent)
port=${LIGHTHOUSE_PORT:-3500}
db=$(mktemp -d)/lighthouse.db
${FLACK_BINARY:-target/release/flack} --addr "127.0.0.1:$port" --database "$db" --config /nonexistent \
  --send-per-second 0 --claims-per-hour 0 >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$(dirname "$db")"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/favicon.svg" >/dev/null && break
  sleep 0.1
done
FLACK_URL="http://127.0.0.1:$port" node scripts/lighthouse/run.mjs "${RUNS:-3}"
echo "Reports: target/lighthouse/*.html; summary: target/lighthouse/summary.json"
