#!/usr/bin/env bash
# Builds a container image offline and imports it into the tier-4 node's containerd.
#
#   hack/e2e/image.sh [options] TAG
#
# Contents (in this order; at least one, or --from):
#   --from TAG             start from an image built earlier by this script in the same tier
#                          (its layers and its config: env, entrypoint, ...)
#   --rootfs DIR           a directory tree, as one layer (tar --numeric-owner --sort=name)
#   --layer TAR            a ready layer tarball (repeatable)
#   --binary FILE[=PATH]   one file at PATH (default /NAME-of-FILE), mode 0755; it also becomes
#                          the entrypoint unless --entrypoint is given (repeatable)
# Config:
#   --env K=V (repeatable)  --entrypoint A[,B...]  --cmd A[,B...]  --workdir DIR  --user U
# Output:
#   --output FILE          also copy the image tarball there
#   --no-import            do not import (works without a tier; prints the tarball's path)
#
# The tier is E2E_DIR (default .e2e/ in the repository), as made by hack/e2e/up.sh. Pods use
# the image as TAG with `imagePullPolicy: Never`. Image tarballs are cached under
# $E2E_CACHE/images keyed by their inputs, so a repeated build only imports. Prints the image
# reference containerd knows it by (docker.io/TAG for a TAG without a registry).
#
# Examples (through hack/e2e/run.sh, or after sourcing DIR/e2e.env):
#   hack/e2e/image.sh --from openshell-e2e/agent:dev --env FOO=bar openshell-e2e/agent:foo
#   hack/e2e/image.sh --binary ./target/debug/helper=/usr/local/bin/helper e2e/helper:dev
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib/crane-registry.sh
. "$(dirname "$0")/../lib/crane-registry.sh"
E2E_LOG_NAME=e2e-image
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
orig_args=("$@")

from="" tag="" output="" import=1
layers=() rootfs=() binaries=() mut=() entry_given=0 recipe=()
while [ $# -gt 0 ]; do
  case $1 in
    --from) from=$2; shift 2 ;;
    --rootfs) rootfs+=("$2"); recipe+=("rootfs=$2"); shift 2 ;;
    --layer) layers+=("$2"); shift 2 ;;
    --binary) binaries+=("$2"); shift 2 ;;
    --env|-e) mut+=(--env "$2"); recipe+=("env=$2"); shift 2 ;;
    --entrypoint) mut+=(--entrypoint "$2"); entry_given=1; recipe+=("entrypoint=$2"); shift 2 ;;
    --cmd) mut+=(--cmd "$2"); recipe+=("cmd=$2"); shift 2 ;;
    --workdir) mut+=(--workdir "$2"); recipe+=("workdir=$2"); shift 2 ;;
    --user) mut+=(--user "$2"); recipe+=("user=$2"); shift 2 ;;
    --output) output=$2; shift 2 ;;
    --no-import) import=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$tag" ] || die "one TAG only"; tag=$1; shift ;;
  esac
done
[ -n "$tag" ] || die "usage: $0 [options] TAG (see --help)"
[ -n "$from" ] || [ ${#layers[@]} -gt 0 ] || [ ${#rootfs[@]} -gt 0 ] || [ ${#binaries[@]} -gt 0 ] ||
  die "nothing to put into $tag: give --from, --rootfs, --layer or --binary"

dir=$(e2e_dir "")
state="$dir/state.env"
NETNS="" NETNS_ID="" CONTAINERD_ADDRESS="" CLUSTER_BIN=""
if [ -f "$state" ]; then
  # shellcheck source=/dev/null
  . "$state"
elif [ "$import" = 1 ] || [ -n "$from" ]; then
  die "no tier recorded in $dir (run hack/e2e/up.sh, or set E2E_DIR; --no-import works without one)"
fi
# The throwaway registry and the import run inside the tier's network namespace.
if [ -n "$NETNS" ] && [ "$(ns_of self net)" != "$NETNS_ID" ]; then
  exec nsenter --net="$NETNS" -- "$self" "${orig_args[@]}"
fi

bin=${CLUSTER_BIN:-${CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openshell-driver-openshift/cluster}/bin}
CRANE="$bin/crane-$CRANE_VERSION"
CTR="$bin/ctr-$CONTAINERD_VERSION"
[ -x "$CRANE" ] || die "no $CRANE: run hack/cluster/build.sh first"
mkdir -p "$E2E_CACHE/images"
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-image.XXXXXX")
cleanup() { crane_registry_stop; rm -rf --one-file-system "$work"; }
trap cleanup EXIT

# Layers, in order: rootfs dirs, then single binaries, then given tarballs.
all=()
n=0
for r in "${rootfs[@]}"; do
  [ -d "$r" ] || die "--rootfs $r: not a directory"
  n=$((n + 1))
  tar --numeric-owner --sort=name -C "$r" -cf "$work/layer-$n.tar" .
  all+=("$work/layer-$n.tar")
done
first_bin=""
for b in "${binaries[@]}"; do
  src=${b%%=*} dst=/$(basename "${b%%=*}")
  [ "$b" != "$src" ] && dst=${b#*=}
  [ -f "$src" ] || die "--binary $src: no such file"
  case $dst in /*) ;; *) die "--binary $b: the path in the image must be absolute" ;; esac
  n=$((n + 1))
  mkdir -p "$work/bin-$n$(dirname "$dst")"
  install -m 0755 "$src" "$work/bin-$n$dst"
  touch -r "$src" "$work/bin-$n$dst"
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$work/bin-$n" -cf "$work/layer-$n.tar" .
  all+=("$work/layer-$n.tar")
  [ -n "$first_bin" ] || first_bin=$dst
done
for l in "${layers[@]}"; do [ -f "$l" ] || die "--layer $l: no such file"; all+=("$l"); done
if [ -n "$first_bin" ] && [ "$entry_given" = 0 ] && [ -z "$from" ]; then
  mut+=(--entrypoint "$first_bin"); recipe+=("entrypoint=$first_bin")
fi

base_tar=""
if [ -n "$from" ]; then
  base_tar=$(awk -v t="$from" '$1==t {p=$2} END {print p}' "$dir/images/index" 2>/dev/null || true)
  [ -f "${base_tar:-/nonexistent}" ] || die "--from $from: not built by image.sh in this tier ($dir/images/index)"
fi

# The cache key: every input that shapes the image.
key=$( {
  echo "v1 crane=$CRANE_VERSION tag=$tag"
  [ -z "$base_tar" ] || echo "base=$(basename "$base_tar")"
  for l in "${all[@]}"; do sha256sum <"$l" | cut -d' ' -f1; done
  printf '%s\n' "${recipe[@]}" | grep -v '^rootfs=' || true
} | sha256sum | cut -c1-24)
out="$E2E_CACHE/images/$key.tar"

if [ -s "$out" ]; then
  log "$tag: cached ($out)"
else
  crane_registry_start "$CRANE" "$work" || die "crane registry did not start"
  reg=$CRANE_REGISTRY
  ref=""
  if [ -n "$base_tar" ]; then
    "$CRANE" push "$base_tar" "$reg/base:1" >/dev/null 2>"$work/crane.log" || { cat "$work/crane.log" >&2; die "crane push failed"; }
    ref="$reg/base:1"
  fi
  if [ ${#all[@]} -gt 0 ]; then
    args=()
    for l in "${all[@]}"; do args+=(-f "$l"); done
    if [ -n "$ref" ]; then args+=(-b "$ref"); else args+=(--oci-empty-base); fi
    "$CRANE" append "${args[@]}" -t "$reg/img:1" >/dev/null 2>"$work/crane.log" || { cat "$work/crane.log" >&2; die "crane append failed"; }
    ref="$reg/img:1"
  fi
  "$CRANE" mutate "$ref" --set-platform linux/amd64 "${mut[@]}" -t "$tag" -o "$out.tmp" >/dev/null 2>"$work/crane.log" ||
    { cat "$work/crane.log" >&2; die "crane mutate failed"; }
  mv "$out.tmp" "$out"
  log "$tag: built $out ($(du -h "$out" | cut -f1))"
fi
[ -z "$output" ] || cp "$out" "$output"

if [ "$import" = 0 ]; then echo "$out"; exit 0; fi
"$CTR" --address "$CONTAINERD_ADDRESS" -n k8s.io images import --platform linux/amd64 "$out" >"$work/import.log" 2>&1 ||
  { cat "$work/import.log" >&2; die "ctr import of $tag failed"; }
mkdir -p "$dir/images"
echo "$tag $out" >>"$dir/images/index"
case ${tag%%/*} in
  *.*|*:*|localhost) name=$tag ;;
  *) case $tag in */*) name=docker.io/$tag ;; *) name=docker.io/library/$tag ;; esac ;;
esac
log "$tag: imported as $name"
echo "$name"
