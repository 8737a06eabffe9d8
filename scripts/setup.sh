#!/usr/bin/env bash
# Installs everything Flack needs to build and test, skipping what is
# already there at the right version. Needs only rustup/cargo, node/npm and
# apt (for Chromium, used by the end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=132
# The wasm-bindgen CLI must be exactly the version of the crate in Cargo.lock.
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')

say() { printf '\n== %s\n' "$*"; }

say "Rust target wasm32-unknown-unknown"
rustup target add wasm32-unknown-unknown

# Tools are built with a lighter release profile: same tools, built in
# half the time (cargo-leptos's own profile uses fat LTO).
install_tool() { # crate version expected-version-line [cargo install flags]
  local crate=$1 version=$2 expected=$3 bin=$4
  shift 4
  if [ "$("$bin" --version 2>/dev/null || true)" = "$expected" ]; then
    echo "$crate $version: already installed"
  else
    say "Installing $crate $version (a few minutes, once)"
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install "$crate" --version "$version" "$@"
  fi
}
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
install_tool cargo-leptos "$CARGO_LEPTOS_VERSION" "cargo-leptos $CARGO_LEPTOS_VERSION" "$CARGO_BIN/cargo-leptos" --locked
install_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" "wasm-bindgen $WASM_BINDGEN_VERSION" "$CARGO_BIN/wasm-bindgen"

# wasm-opt for release builds, from npm (Debian's is too old), kept inside
# the project so no global install is needed.
if [ "$(.tools/node_modules/.bin/wasm-opt --version 2>/dev/null | grep -o 'version [0-9]*' || true)" != "version $BINARYEN_VERSION" ]; then
  say "Installing binaryen $BINARYEN_VERSION (wasm-opt)"
  npm install --no-audit --no-fund --prefix .tools "binaryen@$BINARYEN_VERSION"
fi

if ! command -v "${CHROMIUM_PATH:-chromium}" >/dev/null 2>&1; then
  say "Installing Chromium (Debian's) for the end-to-end tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

say "Playwright (end2end/)"
# Playwright must not download its own browser: the tests use Chromium above.
(cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
