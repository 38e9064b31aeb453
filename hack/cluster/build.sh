#!/usr/bin/env bash
# Builds the local test cluster's binaries from their published Go modules and caches them
# outside the repository, keyed by version. A warm cache rebuilds nothing.
#
#   hack/cluster/build.sh            build what is missing, print the bin directory
#   CLUSTER_CACHE=dir hack/cluster/build.sh
#   hack/cluster/build.sh crane actionlint   only these tools (crane, actionlint, helm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openshell-driver-openshift/cluster}
bin="$cache/bin"
mkdir -p "$bin" "$cache/src" "$cache/logs"
export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--trimpath} GOTOOLCHAIN=local

start=$(date +%s)
log() { printf '[cluster-build %4ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }

# Runs a build in the background while printing a heartbeat, so a cold build is not silence.
with_progress() {
  local what=$1; shift
  local logf="$cache/logs/$what.log"
  log "building $what (log: $logf)"
  "$@" >"$logf" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "  still building $what ..."
  done
  if ! wait "$pid"; then
    log "FAILED building $what; last lines of $logf:"
    tail -n 30 "$logf" >&2
    return 1
  fi
  log "built $what"
}

have() { [ -x "$bin/$1-$2" ]; }

build_kube() {
  local v=$KUBE_VERSION minor
  minor=${v#v1.}; minor=${minor%%.*}
  local mod="$cache/src/kubernetes-$v"
  mkdir -p "$mod"
  # k8s.io/kubernetes replaces its staging modules with local paths, which `go install`
  # refuses; a wrapper module pins each one to its published v0.x twin instead. The list
  # comes from the go.mod of the release itself, so a bump needs no edit here.
  local gomod
  gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module local/kube-build"
    echo "go 1.26"
    echo "require k8s.io/kubernetes $v"
    sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod" |
      sort -u | while read -r m; do echo "replace $m => $m v0.$minor.${v##*.}"; done
  } >"$mod/go.mod"
  local pkgs=() names=()
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
  # kube-proxy only for tier 4's chart run (E2E_CHART=1 hack/test-e2e.sh).
  [ "${CLUSTER_WITH_KUBE_PROXY:-}" != 1 ] || want+=(kube-proxy)
  for c in "${want[@]}"; do
    have "$c" "$v" && continue
    names+=("$c"); pkgs+=("k8s.io/kubernetes/cmd/$c")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  mkdir -p "$mod/out"
  # No `go mod tidy`: with no Go source here it would drop the require line. `-mod=mod` lets
  # go build add the missing requirements at the versions MVS picks from k8s.io/kubernetes.
  with_progress "kubernetes-$v" bash -c "cd '$mod' && GOFLAGS='$GOFLAGS -mod=mod' go build -ldflags '$ld' -o out/ ${pkgs[*]}"
  for c in "${names[@]}"; do mv "$mod/out/$c" "$bin/$c-$v"; done
}

# Builds one package of a published module inside a throwaway wrapper module. Used for every
# binary: `go install pkg@version` also asks the proxy for the module's version list, which
# the proxy here refuses for some modules, and modules with relative replaces (etcd) refuse it.
build_wrapped() { # name version module package
  have "$1" "$2" && return 0
  local mod="$cache/src/$1-$2"
  mkdir -p "$mod"
  printf 'module local/%s-build\ngo 1.26\nrequire %s %s\n' "$1" "$3" "$2" >"$mod/go.mod"
  with_progress "$1-$2" bash -c "cd '$mod' && GOFLAGS='$GOFLAGS -mod=mod' go build -ldflags '-s -w' -o '$bin/$1-$2' '$4'"
}

# Several packages of one module into one wrapper build; each binary cached as NAME-VERSION.
# Args: version module tags pkg... (each pkg's last path element is the binary's name).
build_multi() {
  local v=$1 m=$2 tags=$3; shift 3
  local pkgs=() names=() p n
  for p in "$@"; do
    n=${p##*/}
    have "$n" "$v" && continue
    names+=("$n"); pkgs+=("$p")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  local mod="$cache/src/${m//\//_}-$v" what=${m%/v[0-9]*}
  mkdir -p "$mod/out"
  printf 'module local/multi-build\ngo 1.26\nrequire %s %s\n' "$m" "$v" >"$mod/go.mod"
  with_progress "${what##*/}-$v" bash -c "cd '$mod' && GOFLAGS='$GOFLAGS -mod=mod' go build -tags '$tags' -ldflags '-s -w' -o out/ ${pkgs[*]}"
  for n in "${names[@]}"; do mv "$mod/out/$n" "$bin/$n-$v"; done
}

# The pause container of the real node: the C file shipped inside the Kubernetes module,
# linked statically so the image needs nothing else.
build_pause() {
  have pause "$KUBE_VERSION" && return 0
  local dir
  dir=$(cd "$cache/src" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  gcc -Os -static -o "$bin/pause-$KUBE_VERSION" "$dir/build/pause/linux/pause.c"
}

fetch_crds() {
  local dir
  dir=$(cd "$cache/src" && go mod download -json "sigs.k8s.io/agent-sandbox@$AGENT_SANDBOX_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$dir/k8s/crds" ] || { log "no k8s/crds in $dir"; return 1; }
  echo "$dir/k8s/crds" >"$cache/agent-sandbox-crds-$AGENT_SANDBOX_VERSION.path"
}

# OpenShift's real CRDs ship in github.com/openshift/api, at the version the admission webhook
# pins in its go.mod; their paths are listed for up.sh --openshift and the tests.
fetch_openshift_crds() {
  local v dir f list=()
  v=$(sed -n 's#^[[:space:]]*github.com/openshift/api \(v[^[:space:]]*\).*#\1#p' "$repo/hack/openshift-admission/go.mod")
  dir=$(cd "$cache/src" && go mod download -json "github.com/openshift/api@$v" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  for f in security/v1/zz_generated.crd-manifests/0000_03_config-operator_01_securitycontextconstraints.crd.yaml \
           route/v1/zz_generated.crd-manifests/routes.crd.yaml \
           securityinternal/v1/zz_generated.crd-manifests/0000_03_config-operator_02_rangeallocations.crd.yaml; do
    [ -f "$dir/$f" ] || { log "no $f in $dir"; return 1; }
    list+=("$dir/$f")
  done
  printf '%s\n' "${list[@]}" >"$cache/openshift-crds.list"
}

# The test cluster's OpenShift admission webhook (hack/openshift-admission), a Go module of the
# repository: cached under a hash of its sources, so an edit rebuilds it and nothing else does.
build_openshift_admission() {
  local src="$repo/hack/openshift-admission" key
  key=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)
  if ! have openshift-admission "$key"; then
    with_progress "openshift-admission-$key" bash -c "cd '$src' && GOFLAGS='$GOFLAGS -mod=readonly' go build -ldflags '-s -w' -o '$bin/openshift-admission-$key' ."
  fi
  echo "$bin/openshift-admission-$key" >"$cache/openshift-admission.path"
}

build_crane() { build_wrapped crane "$CRANE_VERSION" github.com/google/go-containerregistry github.com/google/go-containerregistry/cmd/crane; }
build_actionlint() { build_wrapped actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint github.com/rhysd/actionlint/cmd/actionlint; }
build_helm() { build_wrapped helm "$HELM_VERSION" helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm; }

# Single tools by name: the image build and the workflow lint need one each, not a cluster.
if [ $# -gt 0 ]; then
  for t in "$@"; do
    case $t in
      crane|actionlint|helm) "build_$t" ;;
      *) log "unknown tool $t (crane, actionlint, helm)"; exit 2 ;;
    esac
  done
  echo "$bin"
  exit 0
fi

# The small ones first so that a failure shows early; the big Kubernetes build last.
# Builds run one after another: on 2 cores, go build already uses both.
build_wrapped kwok "$KWOK_VERSION" sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok
build_wrapped agent-sandbox-controller "$AGENT_SANDBOX_VERSION" sigs.k8s.io/agent-sandbox sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller
fetch_crds
build_wrapped etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3
build_helm
build_multi "$CNI_PLUGINS_VERSION" github.com/containernetworking/plugins "" \
  github.com/containernetworking/plugins/plugins/main/bridge \
  github.com/containernetworking/plugins/plugins/main/loopback \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/meta/portmap
build_crane
build_actionlint
build_wrapped crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools sigs.k8s.io/cri-tools/cmd/crictl
build_multi "$CONTAINERD_VERSION" github.com/containerd/containerd/v2 no_btrfs \
  github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/ctr \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
build_kube
build_pause
fetch_openshift_crds
# After Kubernetes: it shares most of its packages, already in the build cache then.
build_openshift_admission
log "all binaries ready in $bin"
echo "$bin"
