#!/usr/bin/env bash
# Stops a tier started by hack/e2e/up.sh and leaves the host as it was: the kubelet, the pods
# (through the CRI), containerd and the control plane by their recorded PIDs; then whatever is
# still inside the tier's own network namespace or cgroups (only this run's processes can be
# there); the cgroup root depth first; the network namespace (bridge and veths go with it);
# /run/netns and /run/xtables.lock when this run made them. Checks the host sysctls.
# Idempotent: a second call finds nothing and says so.
#
#   hack/e2e/down.sh [DIR]       default DIR: .e2e/ in the repository
# E2E_KEEP_LOGS=1 keeps DIR/logs (with the control plane's logs under DIR/logs/cluster).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_LOG_NAME=e2e-down
dir=$(e2e_dir "${1:-}")
state="$dir/state.env"
if [ ! -f "$state" ]; then log "no tier recorded in $dir: nothing to stop"; exit 0; fi
NETNS_NAME="" NETNS_ID="" CGROUP_ROOT="" CONTAINERD_ADDRESS="" CLUSTER_BIN="" CLUSTER_DIR=""
NODE_MNTNS="" CREATED_RUN_NETNS=0 CREATED_XTABLES_LOCK=0 SHIM_SOCKET_DIR=""
# shellcheck source=/dev/null
. "$state"
problems=0

alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# This script and its ancestors are never signalled (down.sh may be run from inside the tier).
protected=" "
p=$$
while [ -n "$p" ] && [ "$p" -gt 1 ] 2>/dev/null; do
  protected+="$p "
  p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)
done
stop() { # pid name: TERM, up to 10 s, then KILL
  local pid=$1 name=$2
  alive "$pid" || return 0
  case $protected in *" $pid "*) return 0 ;; esac
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null; log "  killed $name ($pid)"; else log "  stopped $name ($pid)"; fi
}
# A recorded PID is only signalled while it is still inside the tier's network namespace, so
# a PID reused by some other process since is left alone.
stop_recorded() { # name
  local pid n
  [ -f "$dir/pids" ] || return 0
  while read -r pid n; do
    [ "$n" = "$1" ] || continue
    if [ -n "$NETNS_ID" ] && [ "$(ns_of "$pid" net)" != "$NETNS_ID" ]; then continue; fi
    stop "$pid" "$n"
  done < <(tac "$dir/pids")
}
# Processes inside the tier: in its network namespace, or in a cgroup under its cgroup root.
tier_pids() {
  local p pid m
  if [ -n "$NETNS_ID" ]; then
    for p in /proc/[0-9]*; do
      pid=${p#/proc/}
      [ "$(ns_of "$pid" net)" = "$NETNS_ID" ] && echo "$pid"
    done
  fi
  if [ -n "$CGROUP_ROOT" ]; then
    for m in $(cgroup_mounts); do
      [ -d "$m$CGROUP_ROOT" ] && find "$m$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null
    done
  fi
}
sweep() { # what
  local pids=() pid
  mapfile -t pids < <(tier_pids | sort -un)
  for pid in "${pids[@]}"; do
    case $protected in *" $pid "*) continue ;; esac
    alive "$pid" || continue
    log "  $1: stopping $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80) ($pid)"
    kill -TERM "$pid" 2>/dev/null
  done
  for _ in $(seq 1 50); do
    local left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [ $left = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  sleep 0.2
}

log "stopping the tier recorded in $dir (network namespace ${NETNS_NAME:-none})"
# 1. The kubelet first, so that it restarts nothing; then every pod through the CRI, so that
#    the shims and containers exit; then containerd.
stop_recorded kubelet
crictl=$CLUSTER_BIN/crictl-$CRICTL_VERSION
if [ -n "$CONTAINERD_ADDRESS" ] && [ -S "$CONTAINERD_ADDRESS" ] && [ -x "$crictl" ]; then
  if [ -n "$("$crictl" --runtime-endpoint "unix://$CONTAINERD_ADDRESS" --timeout 10s pods -q 2>/dev/null)" ]; then
    log "removing the node's pods through the CRI"
    timeout 90 "$crictl" --runtime-endpoint "unix://$CONTAINERD_ADDRESS" --timeout 60s rmp --all --force >/dev/null 2>&1 ||
      log "  crictl rmp did not finish; the sweep below stops what is left"
  fi
fi
stop_recorded containerd
stop_recorded registry
# 2. The control plane (hack/cluster/down.sh stops its own recorded PIDs).
if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
  if [ "${E2E_KEEP_LOGS:-}" = 1 ] && [ -d "$CLUSTER_DIR/logs" ]; then
    mkdir -p "$dir/logs/cluster"; cp -a "$CLUSTER_DIR/logs/." "$dir/logs/cluster/"
  fi
  log "stopping the control plane (hack/cluster/down.sh $CLUSTER_DIR)"
  "$e2e_repo/hack/cluster/down.sh" "$CLUSTER_DIR" 2>&1 | sed 's/^/  /' >&2
fi
# 3. Whatever is left inside (shims, containers, a test's gateway...): the namespaces identify them.
sweep "left in the tier"
if [ -n "$NODE_MNTNS" ]; then
  for _ in $(seq 1 50); do
    holders=0
    for p in /proc/[0-9]*; do [ "$(ns_of "${p#/proc/}" mnt)" = "$NODE_MNTNS" ] && holders=$((holders + 1)); done
    [ $holders = 0 ] && break
    sleep 0.1
  done
  if [ "$holders" != 0 ]; then log "WARNING: $holders processes still hold the node's mount namespace"; problems=1; fi
fi
# 4. The cgroup root, depth first, in every hierarchy.
if [ -n "$CGROUP_ROOT" ]; then
  for m in $(cgroup_mounts); do
    [ -d "$m$CGROUP_ROOT" ] || continue
    for _ in $(seq 1 50); do
      find "$m$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$m$CGROUP_ROOT" ] || break
      sweep "cgroup $m$CGROUP_ROOT"
    done
    if [ -d "$m$CGROUP_ROOT" ]; then log "WARNING: could not remove $m$CGROUP_ROOT"; problems=1; fi
  done
  log "removed cgroup $CGROUP_ROOT"
fi
# 5. The network namespace; /run/netns and /run/xtables.lock if this run made them.
if [ -n "$NETNS_NAME" ] && [ -e "/run/netns/$NETNS_NAME" ]; then
  ip netns del "$NETNS_NAME" && log "deleted network namespace $NETNS_NAME" || problems=1
fi
if [ "$CREATED_RUN_NETNS" = 1 ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
  while mountpoint -q /run/netns; do umount -n /run/netns || break; done
  rmdir /run/netns 2>/dev/null && log "removed /run/netns (this run made it)"
fi
if [ "$CREATED_XTABLES_LOCK" = 1 ] && [ -e /run/xtables.lock ]; then
  rm -f /run/xtables.lock && log "removed /run/xtables.lock (this run made it)"
fi
if [ -n "$SHIM_SOCKET_DIR" ] && [ -d "$SHIM_SOCKET_DIR" ]; then rm -rf --one-file-system "$SHIM_SOCKET_DIR"; fi
# 6. The host's sysctls must be what they were.
if [ -f "$dir/host-sysctls" ]; then
  changed=""
  while IFS="=" read -r key val; do
    now=$(sysctl -n "$key" 2>/dev/null)
    [ "$now" = "$val" ] || changed+=" $key=$now(was $val)"
  done <"$dir/host-sysctls"
  if [ -n "$changed" ]; then log "WARNING: host sysctls changed:$changed"; problems=1
  else log "host sysctls unchanged ($(paste -sd' ' "$dir/host-sysctls"))"; fi
fi
# 7. The run directory: nothing of the host is mounted there (the node's mounts lived in its
#    own mount namespace, now gone); refuse to delete across a mount all the same.
if awk -v d="$dir/" 'index($5 "/", d) == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
  log "WARNING: something is mounted under $dir; left in place"; problems=1
else
  if [ "${E2E_KEEP_LOGS:-}" = 1 ]; then
    find "$dir" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf --one-file-system {} +
    log "kept $dir/logs"
  else
    rm -rf --one-file-system "$dir"
  fi
fi
left=$(tier_pids | sort -un | wc -l)
[ "$left" = 0 ] || { log "WARNING: $left processes still inside the tier"; problems=1; }
if [ $problems = 0 ]; then log "done: nothing left behind"; else log "done, with the warnings above"; fi
exit $problems
