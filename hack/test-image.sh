#!/usr/bin/env bash
# make test-image: the image of `make image` is reproducible and holds exactly what it should.
#
# Builds the commit twice: once in this checkout, once in a fresh clone at another path with
# its own cargo target directory, and requires one index digest. Then reads the image from its
# OCI archive: the entrypoint, user, labels, the layer's exact file list (no shell, no package
# manager), root-owned entries with the commit's time, static binaries, the size goal, and that
# the driver and the launcher in it run. IMAGE_PLATFORMS (default linux/amd64) picks what is built.
set -euo pipefail
export TZ=UTC
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=image/lib.sh
. "$repo/hack/image/lib.sh"
export IMAGE_PLATFORMS=${IMAGE_PLATFORMS:-linux/amd64}
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] ||
  die "uncommitted changes: the clone would build another tree (commit first)"
work=$(mktemp -d "${TMPDIR:-/tmp}/test-image.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
failed=0
check() { # what command...
  local what=$1; shift
  if "$@"; then echo "image: ok: $what"; else echo "image: FAILED: $what"; failed=1; fi
}

IMAGE_OUT="$work/a" "$repo/hack/image/build.sh" >"$work/a.out"
# IMAGE_TEST_CLONE=DIR keeps the second checkout (and its target directory) there, so a rerun
# builds incrementally what changed; by default a new clone, built from nothing.
clone=${IMAGE_TEST_CLONE:-$work/clone}
[ -d "$clone/.git" ] || git clone --quiet --no-hardlinks "$repo" "$clone"
git -C "$clone" fetch --quiet "$repo" HEAD
git -C "$clone" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"
[ "$(cd "$clone" && pwd)" != "$repo" ] || die "IMAGE_TEST_CLONE is this checkout"
log "second build in $clone (its own target directory)"
IMAGE_OUT="$work/b" "$clone/hack/image/build.sh" >"$work/b.out"
# shellcheck source=/dev/null
. "$work/a/image.env"
a=$IMAGE_DIGEST
b=$(sed -n 's/^IMAGE_DIGEST=//p' "$work/b/image.env")
check "two builds, two paths, one digest ($a)" test "$a" = "$b"
check "the archives are byte for byte equal" cmp -s "$IMAGE_ARCHIVE" "$(sed -n 's/^IMAGE_ARCHIVE=//p' "$work/b/image.env")"
check "make image names the archive and the digest last" \
  test "$(tail -n2 "$work/a.out")" = "$(printf 'archive: %s\ndigest: %s' "$IMAGE_ARCHIVE" "$a")"

layout="$work/layout"
mkdir -p "$layout"
tar -xf "$IMAGE_ARCHIVE" -C "$layout"
blob() { echo "$layout/blobs/${1/://}"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
index=$(blob "$(json "$layout/index.json" 'd["manifests"][0]["digest"]')")
check "index.json points at the printed digest" test "$(json "$layout/index.json" 'd["manifests"][0]["digest"]')" = "$a"
check "index.json names the image (io.containerd.image.name, ref.name)" test "$(json "$layout/index.json" 'd["manifests"][0]["annotations"]["io.containerd.image.name"] + " " + d["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]')" = "$IMAGE_REPOSITORY:$IMAGE_TAG $IMAGE_TAG"
epoch=$(git -C "$repo" log -1 --format=%ct)
for platform in ${IMAGE_PLATFORMS//,/ }; do
  m=$(json "$index" "[x['digest'] for x in d['manifests'] if x['platform']['os']+'/'+x['platform']['architecture']=='$platform'][0]")
  manifest=$(blob "$m")
  config=$(blob "$(json "$manifest" 'd["config"]["digest"]')")
  check "$platform: entrypoint is the driver" test "$(json "$config" 'd["config"]["Entrypoint"]')" = "['/openshell-driver-openshift']"
  check "$platform: user 65532:65532" test "$(json "$config" 'd["config"]["User"]')" = 65532:65532
  for l in source version revision licenses; do
    check "$platform: label org.opencontainers.image.$l" \
      test -n "$(json "$config" "d['config']['Labels'].get('org.opencontainers.image.$l', '')")"
  done
  check "$platform: revision label is the commit" \
    test "$(json "$config" "d['config']['Labels']['org.opencontainers.image.revision']")" = "$(git -C "$repo" rev-parse HEAD)"
  check "$platform: one layer" test "$(json "$manifest" 'len(d["layers"])')" = 1
  layer=$(blob "$(json "$manifest" 'd["layers"][0]["digest"]')")
  tar -tvzf "$layer" --numeric-owner --full-time >"$work/listing"
  awk '{print $6}' "$work/listing" | sed 's#^\./##; /^$/d' | sort >"$work/files"
  printf '%s\n' etc/ etc/ssl/ etc/ssl/certs/ etc/ssl/certs/ca-certificates.crt openshell-driver-openshift \
    openshell-launcher | sort >"$work/want"
  check "$platform: exactly the driver, the launcher and the CA bundle (no shell)" diff -u "$work/want" "$work/files"
  check "$platform: every entry owned by 0/0" test -z "$(awk '$2 != "0/0"' "$work/listing")"
  check "$platform: every entry has the commit's time" \
    test -z "$(awk -v t="$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S')" '$4" "$5 != t' "$work/listing")"
  size=$(json "$manifest" 'd["config"]["size"] + sum(l["size"] for l in d["layers"])')
  check "$platform: $((size / 1000)) kB compressed, under the 20 MB goal" test "$size" -lt 20000000
  root="$work/root-${platform#linux/}"
  mkdir -p "$root"
  tar -xzf "$layer" -C "$root"
  for f in openshell-driver-openshift openshell-launcher; do
    check "$platform: /$f is static" sh -c "! readelf -l '$root/$f' | grep -q 'INTERP'"
  done
  check "$platform: the CA bundle holds certificates" test "$(grep -c 'BEGIN CERTIFICATE' "$root/etc/ssl/certs/ca-certificates.crt")" -gt 100
  if [ "$platform" = linux/amd64 ]; then
    check "the image's driver runs (render)" sh -c "'$root/openshell-driver-openshift' render -f '$repo/examples/sandbox.yaml' | grep -q 'kind: Sandbox'"
    check "the image's launcher runs (copy-self)" sh -c "'$root/openshell-launcher' copy-self '$work/copied' && cmp -s '$work/copied' '$root/openshell-launcher'"
  fi
done
check "the SBOM lists the driver's crates" sh -c "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); n={c[\"name\"] for c in d[\"components\"]}; sys.exit(0 if {\"kube-client\",\"tonic\",\"tokio\"} <= n else 1)' '$IMAGE_SBOM'"
tail -n 6 "$work/a.out"
[ "$failed" = 0 ] || { echo "image: FAILED"; exit 1; }
echo "image: reproducible and as specified"
