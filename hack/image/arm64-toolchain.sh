#!/usr/bin/env bash
# Installs what building the linux/arm64 image needs, from Debian's packages: rustup cannot
# download targets here, so the aarch64 standard library comes from Debian's multiarch
# libstd-rust-web-dev:arm64, matched by its rustc-web, with the gcc cross linker and the
# aarch64 C library (static, for +crt-static). Idempotent; prints the rustc it installed.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if rustc=$(arm64_toolchain); then echo "$rustc"; exit 0; fi
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
log "apt-get update (arm64 lists)"
apt-get update -qq >&2
log "installing rustc-web, libstd-rust-web-dev:arm64, gcc-aarch64-linux-gnu"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  rustc-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross >&2
rustc=$(arm64_toolchain) || die "installed, but no aarch64 standard library for $(/usr/bin/rustc -V 2>&1)"
echo "$rustc"
