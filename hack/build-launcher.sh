#!/usr/bin/env bash
# Builds the launcher (src/bin/openshell-launcher.rs) as a small static binary: it is std only,
# so rustc alone builds it, and `+crt-static` on the gnu target needs no extra Rust target.
#   hack/build-launcher.sh [OUT]     default OUT: target/launcher/openshell-launcher
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/target/launcher/openshell-launcher}
mkdir -p "$(dirname "$out")"
rustc --edition 2024 -C opt-level=z -C strip=symbols -C panic=abort -C target-feature=+crt-static \
  --target x86_64-unknown-linux-gnu "$repo/src/bin/openshell-launcher.rs" -o "$out"
echo "$out"
