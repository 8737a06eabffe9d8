#!/usr/bin/env bash
# Sets up everything, builds Flack in release mode and serves it at
# http://127.0.0.1:3000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
cargo leptos serve --release --precompress --split
