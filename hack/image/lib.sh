# Shared by hack/image/*.sh; sourced, not run.
# shellcheck shell=bash
image_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE_CACHE=${IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openshell-driver-openshift/image}
CARGO_CYCLONEDX_VERSION=0.5.9
image_t0=$(date +%s)
log() { printf '[image %4ss] %s\n' "$(( $(date +%s) - image_t0 ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# linux/amd64 always; linux/arm64 too when an aarch64 Rust standard library and linker are here
# (hack/image/arm64-toolchain.sh installs them from Debian).
buildable_platforms() {
  local p=linux/amd64
  if arm64_toolchain >/dev/null 2>&1; then p+=,linux/arm64; fi
  echo "$p"
}

rust_triple() {
  case $1 in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    *) die "no Rust target for $1" ;;
  esac
}

# The rustc that has the target's standard library: rustup's for the host, Debian's rustc-web
# (with libstd-rust-web-dev:arm64) for aarch64, since rustup cannot download targets here.
arm64_toolchain() {
  local rustc=/usr/bin/rustc
  [ -x "$rustc" ] && command -v aarch64-linux-gnu-gcc >/dev/null &&
    [ -d "$("$rustc" --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu/lib" ] && echo "$rustc"
}

# A static, stripped release build with the source and registry paths remapped, so the bytes
# do not depend on where the checkout or the cargo home is. Prints the binary's path.
build_driver() { # triple
  local triple=$1 up flags
  up=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  flags="-C target-feature=+crt-static --remap-path-prefix=$image_repo=/src --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
  local env=("CARGO_TARGET_${up}_RUSTFLAGS=$flags" CARGO_PROFILE_RELEASE_STRIP=symbols)
  if [ "$triple" = aarch64-unknown-linux-gnu ]; then
    local rustc; rustc=$(arm64_toolchain) || die "no aarch64 toolchain (hack/image/arm64-toolchain.sh)"
    env+=("RUSTC=$rustc" "CARGO_TARGET_${up}_LINKER=aarch64-linux-gnu-gcc" "CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc")
  fi
  log "building $triple (static, release)"
  (cd "$image_repo" && env "${env[@]}" cargo build --locked --release --quiet --target "$triple" \
    --bin openshell-driver-openshift) >&2 || die "cargo build for $triple failed"
  echo "${CARGO_TARGET_DIR:-$image_repo/target}/$triple/release/openshell-driver-openshift"
}

# Debian's Mozilla CA bundle, built as update-ca-certificates builds it (every certificate of
# the package, in name order). Writes DIR/ca-certificates.crt and DIR/version; prints the bundle.
ca_bundle() { # dir
  local dir=$1 v deb
  mkdir -p "$dir" "$IMAGE_CACHE/debs"
  candidate() { apt-cache policy ca-certificates 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
  v=$(candidate)
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then apt-get update -qq >&2; v=$(candidate); fi
  [ -n "$v" ] && [ "$v" != "(none)" ] || die "apt knows no ca-certificates package"
  deb="$IMAGE_CACHE/debs/ca-certificates_${v//:/%3a}_all.deb"
  if [ ! -s "$deb" ]; then
    (cd "$IMAGE_CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "ca-certificates=$v") >&2 || die "apt-get download ca-certificates=$v failed"
  fi
  dpkg-deb -x "$deb" "$dir/deb"
  find "$dir/deb/usr/share/ca-certificates" -name '*.crt' -print0 | LC_ALL=C sort -z |
    xargs -0 sed -e '$a\' >"$dir/ca-certificates.crt"
  [ -s "$dir/ca-certificates.crt" ] || die "no certificates in $deb"
  echo "$v" >"$dir/version"
  echo "$dir/ca-certificates.crt"
}

# A tar whose bytes depend only on the tree's content: sorted entries, numeric root owner,
# every time set to EPOCH, GNU format (no atime/ctime headers).
reproducible_tar() { # dir epoch out [entries...]
  local dir=$1 epoch=$2 out=$3; shift 3
  [ $# -gt 0 ] || set -- .
  find "$dir" -exec touch -h -d "@$epoch" {} +
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$epoch" --format=gnu \
    -C "$dir" -cf "$out" "$@"
}

# Compressed size of one platform's image (config + layers), as a registry stores it.
image_size() { # crane ref
  "$1" manifest "$2" | python3 -c '
import json, sys
m = json.load(sys.stdin)
n = m["config"]["size"] + sum(l["size"] for l in m["layers"])
print(f"{n / 1e6:.1f} MB compressed ({n} bytes)")'
}

# The CycloneDX SBOM of the driver's crates (the binary's dependency graph, no dev-dependencies).
write_sbom() { # out
  local root="$IMAGE_CACHE/tools/cargo-cyclonedx-$CARGO_CYCLONEDX_VERSION"
  if [ ! -x "$root/bin/cargo-cyclonedx" ]; then
    log "installing cargo-cyclonedx $CARGO_CYCLONEDX_VERSION from crates.io"
    cargo install --locked --quiet --root "$root" cargo-cyclonedx --version "$CARGO_CYCLONEDX_VERSION" >&2 ||
      die "cargo install cargo-cyclonedx failed"
  fi
  # It writes next to Cargo.toml; a name of our own, moved at once.
  (cd "$image_repo" && PATH="$root/bin:$PATH" cargo cyclonedx --format json --spec-version 1.5 \
    --target x86_64-unknown-linux-gnu --no-build-deps --override-filename openshell-image-sbom -q) >&2 ||
    die "cargo cyclonedx failed"
  mv "$image_repo/openshell-image-sbom.json" "$1"
}
