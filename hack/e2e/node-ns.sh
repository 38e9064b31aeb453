#!/usr/bin/env bash
# Run by hack/e2e/up.sh as the first process of the node's own mount namespace (made by
# `unshare --mount --propagation private`, so nothing below reaches the host's mounts):
# gives the node per-run /var/lib, /var/log and /run, fakes the sysctls the kubelet would otherwise
# write on the host, then becomes containerd (exec: the PID up.sh recorded stays the same).
# The kubelet later joins this namespace (nsenter --mount=/proc/PID/ns/mnt).
#
#   node-ns.sh NODE_DIR COMMAND...
set -euo pipefail
node=$1; shift
case $node in /*) ;; *) echo "node-ns.sh: NODE_DIR must be absolute" >&2; exit 2 ;; esac
# `mount -n`: util-linux would otherwise create /run/mount/utab on the host's /run.
# Paths the kubelet, libcni and friends hard-code (/var/lib/kubelet/device-plugins,
# /var/lib/cni, /var/log/containers, ...): per run, inside this namespace only.
mount -n --bind "$node/varlib" /var/lib
mount -n --bind "$node/varlog" /var/log
# A private /run as well: the mount(8) calls of the kubelet (tmpfs volumes) write
# /run/mount/utab, iptables (CNI portmap) takes /run/xtables.lock. Nothing here needs the
# host's /run (containerd keeps pod network namespaces under its state directory).
mount -n -t tmpfs -o mode=0755,size=64m e2e-run /run
# A file per sysctl (named like vm.overcommit_memory) holding the value the kubelet wants:
# it reads that value and writes nothing.
for f in "$node"/sysctl/*; do
  [ -f "$f" ] || continue
  key=$(basename "$f")
  mount -n --bind "$f" "/proc/sys/${key//.//}"
done
exec "$@"
