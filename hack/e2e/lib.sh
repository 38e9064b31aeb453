# Shared by the tier-4 scripts (hack/e2e/*.sh); sourced, not run.
# shellcheck shell=bash disable=SC2034
# shellcheck source-path=SCRIPTDIR
e2e_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e_repo=$(cd "$e2e_here/../.." && pwd)
# shellcheck source=../cluster/versions.env
. "$e2e_repo/hack/cluster/versions.env"

# Fixed facts of the tier. Tests read them from DIR/e2e.env, never from here.
E2E_NODE_NAME=node-real
E2E_NODE_LABEL_KEY=openshell.test/node
E2E_NODE_LABEL_VALUE=real
E2E_BRIDGE=cni0
E2E_BRIDGE_IP=10.88.0.1
E2E_POD_SUBNET=10.88.0.0/24
E2E_PAUSE_IMAGE=openshell-e2e/pause:3.10
E2E_AGENT_IMAGE=openshell-e2e/agent:dev
E2E_SUPERVISOR_IMAGE=openshell-e2e/supervisor:dev
E2E_LAUNCHER_IMAGE=openshell-e2e/launcher:dev
# The sysctls the kubelet sets at start (pkg/kubelet/cm/container_manager_linux.go) and the
# values it wants; those the host does not already have are faked inside the node's own mount
# namespace, so the host keeps its own.
E2E_KUBELET_SYSCTLS="vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.panic=10 kernel.panic_on_oops=1 kernel.keys.root_maxkeys=1000000 kernel.keys.root_maxbytes=25000000"
# Host values checked before and after a run.
E2E_WATCHED_SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops vm.panic_on_oom kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

E2E_CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openshell-driver-openshift/e2e}
E2E_LOG_NAME=${E2E_LOG_NAME:-e2e}
e2e_t0=$(date +%s%N)

log() {
  local ms=$(( ($(date +%s%N) - e2e_t0) / 1000000 ))
  printf '[%s %3d.%01ds] %s\n' "$E2E_LOG_NAME" $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}
die() { log "ERROR: $*"; exit 1; }
elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
fmt_ms() { printf '%d.%03ds' $(($1 / 1000)) $(($1 % 1000)); }

# The tier's directory: the argument, else $E2E_DIR, else .e2e/ in the repository.
e2e_dir() { # [dir] [create]
  local d=${1:-${E2E_DIR:-$e2e_repo/.e2e}}
  if [ "${2:-}" = create ]; then mkdir -p "$d"; fi
  [ -d "$d" ] || { echo "$d"; return 0; }
  (cd "$d" && pwd)
}

# Where the real OpenShell binaries are (openshell-sandbox goes into the supervisor image; the
# gateway and the CLI are for the tests).
# Beside this repository, or (for a clone of a local checkout) beside the one it was cloned from,
# as tests/wire.rs finds the wire contract.
openshell_bin_dir() {
  local d=${OPENSHELL_BIN_DIR:-$e2e_repo/../shared/osh} origin
  if [ -z "${OPENSHELL_BIN_DIR:-}" ] && [ ! -d "$d" ]; then
    origin=$(git -C "$e2e_repo" remote get-url origin 2>/dev/null || true)
    [ -n "$origin" ] && [ -d "$origin/../shared/osh" ] && d=$origin/../shared/osh
  fi
  [ -d "$d" ] && d=$(cd "$d" && pwd)
  echo "$d"
}
openshell_missing_hint() {
  echo "OpenShell binaries not found in $1: set OPENSHELL_BIN_DIR to a directory holding openshell-gateway, openshell, openshell-sandbox and openshell-driver-kubernetes (built from the public NVIDIA/OpenShell repository with cargo build --release, as shared/osh/README.md lists)"
}

# The namespace a process is in, as the kernel names it ("net:[4026532281]").
ns_of() { readlink "/proc/$1/ns/$2" 2>/dev/null || true; }

# A free TCP port on the loopback of the current network namespace.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Every cgroup hierarchy (v1 and the v2 one of a hybrid host), by mount point. In mountinfo the
# file system type follows the "-" field.
mounts_of_type() { # type...
  awk -v types=" $* " '{for (i = 7; i <= NF; i++) if ($i == "-") { if (index(types, " " $(i+1) " ")) print $5; break }}' \
    /proc/self/mountinfo | sort -u
}
cgroup_mounts() { mounts_of_type cgroup cgroup2; }
cgroup_v1_mounts() { mounts_of_type cgroup; }
