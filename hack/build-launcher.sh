#!/usr/bin/env bash
# Builds the launcher (src/bin/openshell-launcher.rs) as a small static binary: it is std only,
# so rustc alone builds it, and `+crt-static` on the gnu target needs no extra Rust target.
# The source path is remapped so the bytes do not depend on where the checkout is.
#   hack/build-launcher.sh [OUT [TRIPLE]]   default OUT: target/launcher/openshell-launcher,
#                                           TRIPLE: x86_64-unknown-linux-gnu
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/target/launcher/openshell-launcher}
triple=${2:-x86_64-unknown-linux-gnu}
rustc=rustc linker=()
if [ "$triple" = aarch64-unknown-linux-gnu ]; then
  # Debian's rustc-web has the aarch64 standard library (hack/image/arm64-toolchain.sh).
  rustc=/usr/bin/rustc linker=(-C linker=aarch64-linux-gnu-gcc)
fi
mkdir -p "$(dirname "$out")"
"$rustc" --edition 2024 -C opt-level=z -C strip=symbols -C panic=abort -C target-feature=+crt-static \
  --remap-path-prefix="$repo=/src" "${linker[@]}" \
  --target "$triple" "$repo/src/bin/openshell-launcher.rs" -o "$out"
echo "$out"
