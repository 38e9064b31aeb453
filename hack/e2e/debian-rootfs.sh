#!/usr/bin/env bash
# Builds a small Debian root file system from Debian packages, offline from the package
# archive's point of view once cached: `apt-get download` + extraction (no maintainer scripts),
# closed over dependencies by apt's own resolver run against an empty package database.
# Prints the path of the layer tarball (tar --numeric-owner --sort=name), cached under
# $E2E_CACHE/layers keyed by the exact resolved package set, so a warm call only resolves.
#
#   hack/e2e/debian-rootfs.sh PKG...          e.g. bash coreutils iproute2
# The tree is merged-/usr, has /etc/passwd and /etc/group with root and sandbox (uid/gid 1000),
# /var/run -> /run, /tmp 1777, /sandbox owned by 1000, an ld.so cache, and the links that
# update-alternatives would make (iptables -> the nft backend, awk -> mawk).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_LOG_NAME=debian-rootfs
[ $# -gt 0 ] || die "usage: $0 PKG..."
recipe=4  # bump when the post-processing below changes
mkdir -p "$E2E_CACHE/debs" "$E2E_CACHE/layers"

# apt-get update at most once, and only if the lists cannot resolve the set.
updated=0
apt_update() { [ "$updated" = 1 ] && return 0; log "apt-get update"; apt-get update -qq >&2; updated=1; }

empty=$(mktemp "${TMPDIR:-/tmp}/e2e-dpkg-status.XXXXXX")
work=""
aptlog=""
cleanup() { rm -f "$empty"; [ -z "$aptlog" ] || rm -rf "$aptlog"; if [ -n "$work" ]; then rm -rf --one-file-system "$work"; fi; }
trap cleanup EXIT
aptlog=$(mktemp -d "${TMPDIR:-/tmp}/e2e-apt-log.XXXXXX")
# Resolved against an empty status file; apt's own logs (eipp.log.xz) go to a throwaway
# directory and no package cache is written, so the host's apt state is left alone.
resolve() {
  apt-get -s -o Dir::State::status="$empty" -o Dir::Log="$aptlog" -o Dir::Cache::pkgcache= \
    -o Dir::Cache::srcpkgcache= -o APT::Install-Recommends=false -o APT::Install-Suggests=false \
    install "$@" 2>/dev/null | awk '$1=="Inst" {gsub(/[()]/, "", $3); print $2 "=" $3}' | sort
}
# A resolution takes seconds: keep it, keyed by the request and the package lists it read.
lists_key() { find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -printf '%f %s %T@\n' 2>/dev/null | sort; }
rkey=$( { echo "recipe=$recipe $*"; lists_key; } | sha256sum | cut -c1-16)
rfile="$E2E_CACHE/layers/resolved-$rkey.list"
if [ -s "$rfile" ]; then
  set_list=$(cat "$rfile")
else
  set_list=$(resolve "$@" || true)
  if [ -z "$set_list" ]; then
    apt_update; set_list=$(resolve "$@")
    rkey=$( { echo "recipe=$recipe $*"; lists_key; } | sha256sum | cut -c1-16)
    rfile="$E2E_CACHE/layers/resolved-$rkey.list"
  fi
  [ -n "$set_list" ] || die "apt cannot resolve: $*"
  echo "$set_list" >"$rfile.tmp" && mv "$rfile.tmp" "$rfile"
fi
key=$( { echo "recipe=$recipe"; echo "$set_list"; } | sha256sum | cut -c1-16)
out="$E2E_CACHE/layers/debian-$key.tar"
if [ -s "$out" ]; then log "cached: $out ($(echo "$set_list" | wc -l) packages)"; echo "$out"; exit 0; fi

log "downloading $(echo "$set_list" | wc -l) packages into $E2E_CACHE/debs"
cd "$E2E_CACHE/debs"
debfile() { # pkg=version -> the file apt-get download writes (epoch colon as %3a)
  local p=${1%%=*} v=${1#*=}
  compgen -G "${p}_${v//:/%3a}_*.deb" | head -n 1
}
missing=()
while read -r pv; do [ -n "$(debfile "$pv")" ] || missing+=("$pv"); done <<<"$set_list"
if [ ${#missing[@]} -gt 0 ]; then
  dl() { apt-get -o Dir::Log="$aptlog" download "$@" >&2; }
  dl "${missing[@]}" 2>/dev/null || { apt_update; dl "${missing[@]}"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-rootfs.XXXXXX")
root="$work/rootfs"
mkdir -p "$root"/usr/{bin,sbin,lib,lib64}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
log "extracting into a merged-/usr tree"
while read -r pv; do
  f=$(debfile "$pv"); [ -n "$f" ] || die "no .deb for $pv"
  dpkg-deb --fsys-tarfile "$f" | tar -x --keep-directory-symlink -C "$root"
done <<<"$set_list"

# What the maintainer scripts and a debootstrap would have done, as far as a container needs.
mkdir -p "$root"/{etc,root,run,run/lock,proc,sys,dev,tmp,sandbox,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"; chmod 700 "$root/root"
rm -rf "$root/var/run" "$root/var/lock"
ln -s /run "$root/var/run"; ln -s /run/lock "$root/var/lock"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
sandbox:x:1000:1000:sandbox:/sandbox:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
sandbox:x:1000:
nogroup:x:65534:
EOF
printf 'root:*:19000:0:99999:7:::\nsandbox:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
chmod 640 "$root/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
chown 1000:1000 "$root/sandbox"
alt() { # link target: only where the target exists and the link does not
  if [ -e "$root$2" ] && [ ! -e "$root$1" ] && [ ! -L "$root$1" ]; then ln -s "$2" "$root$1"; fi
}
alt /usr/bin/sh /usr/bin/dash
alt /usr/bin/sh /usr/bin/bash
alt /usr/bin/awk /usr/bin/mawk
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  alt "/usr/sbin/$t" "/usr/sbin/${t/tables/tables-nft}"
done
ldconfig -r "$root" 2>/dev/null || log "ldconfig -r failed; the loader's default paths still apply"
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
  "$root/usr/share/lintian" "$root/var/cache/debconf"/*-old

tar --numeric-owner --sort=name -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
log "built $out ($(du -h "$out" | cut -f1))"
echo "$out"
