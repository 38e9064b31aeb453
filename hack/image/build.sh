#!/usr/bin/env bash
# make image: the driver's OCI image, built without a container engine.
#
#   hack/image/build.sh            build every platform this machine can build, print the result
#   IMAGE_PLATFORMS=linux/amd64 hack/image/build.sh
#   IMAGE_OUT=dir IMAGE_REPOSITORY=registry/name hack/image/build.sh
#
# One layer on an empty base: the static driver (the entrypoint), the static launcher at
# /openshell-launcher (the chart passes the driver's image as --launcher-image) and Debian's
# CA bundle at /etc/ssl/certs/ca-certificates.crt; no shell, no package manager. User
# 65532:65532, OCI labels. Reproducible: file times are the commit's, tar entries sorted with
# numeric owners, the binaries built with their paths remapped, so two builds of one commit
# give one digest (hack/test-image.sh proves it). crane (hack/cluster/build.sh crane) assembles
# the image through a throwaway local registry, as tier 4 does; cargo-cyclonedx writes the SBOM.
#
# Writes to IMAGE_OUT (default target/image): NAME-VERSION.oci.tar (an OCI layout as a tar, the
# image index), NAME-VERSION.cdx.json (the SBOM), image.env (REF, DIGEST, ARCHIVE, ...). The last
# lines printed name the archive, the index digest and the size of each platform's image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../cluster/versions.env
. "$repo/hack/cluster/versions.env"
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lib/crane-registry.sh
. "$repo/hack/lib/crane-registry.sh"

name=openshell-driver-openshift
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
repository=${IMAGE_REPOSITORY:-ghcr.io/openshell/$name}
out=${IMAGE_OUT:-$repo/target/image}
revision=$(git -C "$repo" rev-parse HEAD)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  log "WARNING: uncommitted changes: the image is not the commit $revision"
fi
platforms=${IMAGE_PLATFORMS:-$(buildable_platforms)}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/image-build.XXXXXX")
cleanup() { crane_registry_stop; rm -rf --one-file-system "$work"; }
trap cleanup EXIT

bin=$("$repo/hack/cluster/build.sh" crane)
crane="$bin/crane-$CRANE_VERSION"
cabundle=$(ca_bundle "$work/ca")
ca_version=$(cat "$work/ca/version")

crane_registry_start "$crane" "$work" || die "crane registry did not start"
reg=$CRANE_REGISTRY

manifests=() sizes=()
for platform in ${platforms//,/ }; do
  arch=${platform#linux/}
  triple=$(rust_triple "$arch")
  driver=$(build_driver "$triple")
  launcher=$("$repo/hack/build-launcher.sh" "$work/$arch/launcher/openshell-launcher" "$triple")
  root="$work/$arch/root"
  mkdir -p "$root/etc/ssl/certs"
  install -m 0755 "$driver" "$root/$name"
  install -m 0755 "$launcher" "$root/openshell-launcher"
  install -m 0644 "$cabundle" "$root/etc/ssl/certs/ca-certificates.crt"
  chmod 0755 "$root" "$root/etc" "$root/etc/ssl" "$root/etc/ssl/certs"
  reproducible_tar "$root" "$epoch" "$work/$arch/layer.tar"
  "$crane" append --oci-empty-base -f "$work/$arch/layer.tar" -t "$reg/$name:$arch-base" >/dev/null 2>"$work/crane.log" ||
    { cat "$work/crane.log" >&2; die "crane append failed"; }
  "$crane" mutate "$reg/$name:$arch-base" --set-platform "$platform" \
    --entrypoint "/$name" --user 65532:65532 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    -l "org.opencontainers.image.source=https://github.com/openshell/$name" \
    -l "org.opencontainers.image.version=$version" \
    -l "org.opencontainers.image.revision=$revision" \
    -l "org.opencontainers.image.licenses=Apache-2.0" \
    -l "org.opencontainers.image.title=$name" \
    -l "io.openshell.ca-certificates.version=$ca_version" \
    -t "$reg/$name:$arch" >/dev/null 2>"$work/crane.log" || { cat "$work/crane.log" >&2; die "crane mutate failed"; }
  manifests+=(-m "$reg/$name:$arch")
  sizes+=("$platform $(image_size "$crane" "$reg/$name:$arch")")
done
"$crane" index append "${manifests[@]}" -t "$reg/$name:$version" >/dev/null 2>"$work/crane.log" ||
  { cat "$work/crane.log" >&2; die "crane index append failed"; }
digest=$("$crane" digest "$reg/$name:$version")

# The OCI layout as a reproducible tar; ctr and `crane push --index` both take it.
layout="$work/layout"
"$crane" pull --format=oci "$reg/$name:$version" "$layout" >/dev/null 2>"$work/crane.log" ||
  { cat "$work/crane.log" >&2; die "crane pull failed"; }
# Name the image in the layout's own index, as OCI layouts do (ref.name is the tag) and as
# `ctr images import` reads it (io.containerd.image.name): the import then names the image
# index itself, the digest printed below, not a wrapper of it.
python3 - "$layout/index.json" "$repository:$version" "$version" <<'PY'
import json, sys
path, image, tag = sys.argv[1:]
index = json.load(open(path))
index["manifests"][0]["annotations"] = {"io.containerd.image.name": image, "org.opencontainers.image.ref.name": tag}
json.dump(index, open(path, "w"), separators=(",", ":"), sort_keys=True)
PY
archive="$out/$name-$version.oci.tar"
reproducible_tar "$layout" "$epoch" "$archive" oci-layout index.json blobs
sbom="$out/$name-$version.cdx.json"
write_sbom "$sbom"
cat >"$out/image.env" <<EOF
IMAGE_REPOSITORY=$repository
IMAGE_TAG=$version
IMAGE_DIGEST=$digest
IMAGE_ARCHIVE=$archive
IMAGE_SBOM=$sbom
IMAGE_PLATFORMS=$platforms
IMAGE_REVISION=$revision
EOF
for s in "${sizes[@]}"; do echo "size: $s"; done
echo "sbom: $sbom"
echo "image: $repository:$version"
echo "archive: $archive"
echo "digest: $digest"
