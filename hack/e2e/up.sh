#!/usr/bin/env bash
# Tier 4: a real Kubernetes node (kubelet + containerd + runc + CNI bridge) beside the local
# control plane of hack/cluster/up.sh, all inside ONE network namespace made for this run, plus
# container images built offline (pause, the OpenShell supervisor, a small Debian agent).
#
#   hack/e2e/up.sh [DIR]        default DIR: .e2e/ in the repository; needs root
#   hack/e2e/run.sh CMD...      runs CMD inside the tier with DIR/e2e.env exported
#   hack/e2e/down.sh [DIR]      stops everything by recorded PID and leaves the host as it was
#
# The node is `node-real`, labelled openshell.test/node=real and tainted
# openshell.test/node=real:NoSchedule: only pods that tolerate the taint land there (kwok keeps
# the fake nodes, which are labelled type=kwok). Pods use `imagePullPolicy: Never`.
# Environment: OPENSHELL_BIN_DIR (default ../shared/osh beside the repository),
# E2E_KEEP_ON_FAILURE=1 (leave a failed start running for a look), E2E_SKIP_SMOKE=1,
# E2E_OPENSHIFT=1 (the control plane of up.sh --openshift: OpenShift's SCC admission decides pods).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_LOG_NAME=e2e-up
here=$e2e_here
repo=$e2e_repo

[ "$(id -u)" = 0 ] || die "tier 4 needs root (network namespace, mounts, cgroups)"
dir=$(e2e_dir "${1:-}" create)
case $dir in *[[:space:]]*) die "the tier directory must not contain spaces: $dir" ;; esac
[ -e "$dir/state.env" ] && die "a tier is already recorded in $dir (run hack/e2e/down.sh $dir first)"
export E2E_DIR=$dir
mkdir -p "$dir/logs"
osh=$(openshell_bin_dir)
[ -x "$osh/openshell-sandbox" ] || die "$(openshell_missing_hint "$osh")"
for b in openshell-gateway openshell; do
  [ -x "$osh/$b" ] || log "warning: no $b in $osh; $(openshell_missing_hint "$osh")"
done

# --- 1. host packages --------------------------------------------------------------------
log "step 1/9: host packages"
need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
want runc runc; want iptables iptables; want nft nftables; want ip iproute2
want nsenter util-linux; want unshare util-linux; want mountpoint util-linux
want curl curl; want openssl openssl; want python3 python3; want gcc gcc
want dpkg-deb dpkg; want ldconfig libc-bin; want sha256sum coreutils; want tar tar
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)    # the static pause binary
ldconfig -p 2>/dev/null | grep -q 'libz3\.so\.4' || need+=(libz3-4) # the OpenShell gateway
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  log "installing Debian packages: ${need[*]} (log: $dir/logs/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$dir/logs/apt.log" 2>&1 ||
    { tail -n 20 "$dir/logs/apt.log" >&2; die "apt-get install failed"; }
fi
RUNC=$(command -v runc)

# --- 2. binaries -------------------------------------------------------------------------
log "step 2/9: binaries (hack/cluster/build.sh; log: $dir/logs/build.log)"
bin=$("$repo/hack/cluster/build.sh" 2> >(tee "$dir/logs/build.log" >&2))
b() { echo "$bin/$1-$2"; }
KUBECTL=$(b kubectl "$KUBE_VERSION")
KUBELET=$(b kubelet "$KUBE_VERSION")
CTR=$(b ctr "$CONTAINERD_VERSION")
CRICTL=$(b crictl "$CRICTL_VERSION")
CRANE=$(b crane "$CRANE_VERSION")
for f in "$KUBECTL" "$KUBELET" "$CTR" "$CRICTL" "$CRANE" "$(b containerd "$CONTAINERD_VERSION")" \
  "$(b containerd-shim-runc-v2 "$CONTAINERD_VERSION")" "$(b pause "$KUBE_VERSION")"; do
  [ -x "$f" ] || die "missing $f after hack/cluster/build.sh"
done

# --- 3. what the host looks like now, and the teardown on failure ------------------------
state="$dir/state.env"
record() { echo "$1=$2" >>"$state"; }
: >"$dir/pids"
{
  echo "# tier-4 run state, read by hack/e2e/down.sh and image.sh"
  echo "E2E_DIR=$dir"
  echo "CLUSTER_BIN=$bin"
} >"$state"
for s in $E2E_WATCHED_SYSCTLS; do echo "$s=$(sysctl -n "$s")"; done >"$dir/host-sysctls"
if [ -e /run/xtables.lock ]; then record CREATED_XTABLES_LOCK 0; else record CREATED_XTABLES_LOCK 1; fi
if [ -d /run/netns ]; then record CREATED_RUN_NETNS 0; else record CREATED_RUN_NETNS 1; fi
on_exit() {
  local rc=$?
  [ $rc -eq 0 ] && return 0
  log "FAILED (rc=$rc); logs in $dir/logs and $dir/cluster/logs"
  for f in "$dir/logs/containerd.log" "$dir/logs/kubelet.log"; do
    [ -s "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
  done
  if [ "${E2E_KEEP_ON_FAILURE:-}" = 1 ]; then
    log "E2E_KEEP_ON_FAILURE=1: left as it is; stop it with hack/e2e/down.sh $dir"
  else
    "$here/down.sh" "$dir" >&2 || true
  fi
}
trap on_exit EXIT

# --- 4. the network namespace ------------------------------------------------------------
name=openshell-e2e-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
NETNS=/run/netns/$name
log "step 3/9: network namespace $name, lo up, bridge $E2E_BRIDGE $E2E_BRIDGE_IP/24"
record NETNS_NAME "$name"
record NETNS "$NETNS"
ip netns add "$name"
NETNS_ID="net:[$(stat -L -c %i "$NETNS")]"
record NETNS_ID "$NETNS_ID"
ip -n "$name" link set lo up
ip -n "$name" link add "$E2E_BRIDGE" type bridge
ip -n "$name" addr add "$E2E_BRIDGE_IP/24" dev "$E2E_BRIDGE"
ip -n "$name" link set "$E2E_BRIDGE" up
inns() { nsenter --net="$NETNS" -- "$@"; }

# --- 5. control plane --------------------------------------------------------------------
log "step 4/9: control plane inside $name (hack/cluster/up.sh $dir/cluster)"
record CLUSTER_DIR "$dir/cluster"
pods_reach_api=""
[ "${E2E_PODS_REACH_API:-}" != 1 ] || pods_reach_api=$E2E_BRIDGE_IP
# E2E_OPENSHIFT=1: the control plane decides like OpenShift (up.sh --openshift): its SCC admission
# mutates and admits every pod, the real node runs what it admitted.
openshift=()
[ "${E2E_OPENSHIFT:-}" != 1 ] || openshift=(--openshift)
CLUSTER_KUBELET_CLIENT=1 CLUSTER_KWOK_NODE_SELECTOR=type=kwok CLUSTER_PODS_REACH_API=$pods_reach_api \
  inns "$repo/hack/cluster/up.sh" "${openshift[@]}" "$dir/cluster" >"$dir/logs/cluster-up.out"
KUBECONFIG=$dir/cluster/kubeconfig
pki=$dir/cluster/pki
k() { inns "$KUBECTL" --kubeconfig="$KUBECONFIG" "$@"; }

# --- 6. node directories, identity, cgroups, sysctls -------------------------------------
log "step 5/9: node $E2E_NODE_NAME: directories, client certificate, cgroup root, sysctls"
node=$dir/node
mkdir -p "$node"/{varlib,varlog,sysctl,pki/serving,bin,cni/bin,cni/net.d,cni/ipam,runc,pod-logs,volume-plugins,cdi} \
  "$node"/containerd/{root,state,tmp,opt}
SOCK=$node/containerd/containerd.sock
record CONTAINERD_ADDRESS "$SOCK"
record NODE_DIR "$node"
shim_dir=$node/s
if [ ${#shim_dir} -gt 40 ]; then   # shim sockets are SOCKET_DIR/<64 hex>: keep within 108 bytes
  shim_dir=$(mktemp -d /tmp/e2e-s.XXXXXX); record SHIM_SOCKET_DIR "$shim_dir"
fi
mkdir -p "$shim_dir"
(
  cd "$node/pki"
  openssl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr \
    -subj "/O=system:nodes/CN=system:node:$E2E_NODE_NAME" 2>/dev/null
  openssl x509 -req -in kubelet.csr -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -out kubelet.crt -days 2 -extfile "$pki/client.ext" 2>/dev/null
)
api=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
cat >"$node/kubelet.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "$api", certificate-authority: "$pki/ca.crt"}
users:
- name: kubelet
  user: {client-certificate: "$node/pki/kubelet.crt", client-key: "$node/pki/kubelet.key"}
contexts:
- name: local
  context: {cluster: local, user: kubelet}
current-context: local
KC
# RBAC only (no Node authorizer): the node's own identity gets the system:node role.
k create clusterrolebinding "openshell-e2e:$E2E_NODE_NAME" --clusterrole=system:node \
  --user="system:node:$E2E_NODE_NAME" >/dev/null

CGROUP_ROOT=/$name
record CGROUP_ROOT "$CGROUP_ROOT"
for m in $(cgroup_v1_mounts); do
  mkdir "$m$CGROUP_ROOT"
  if [ -f "$m/cpuset.cpus" ]; then
    cat "$m/cpuset.cpus" >"$m$CGROUP_ROOT/cpuset.cpus"
    cat "$m/cpuset.mems" >"$m$CGROUP_ROOT/cpuset.mems"
  fi
done
faked=()
for kv in $E2E_KUBELET_SYSCTLS; do
  key=${kv%%=*} val=${kv#*=}
  if [ "$(sysctl -n "$key")" != "$val" ]; then echo "$val" >"$node/sysctl/$key"; faked+=("$key"); fi
done
[ ${#faked[@]} -eq 0 ] || log "  sysctls faked inside the node's mount namespace: ${faked[*]}"
printf 'nameserver %s\noptions ndots:1\n' "$E2E_BRIDGE_IP" >"$node/resolv.conf"

# --- 7. containerd -----------------------------------------------------------------------
log "step 6/9: containerd $CONTAINERD_VERSION in the node's own mount namespace"
ln -sf "$(b containerd "$CONTAINERD_VERSION")" "$node/bin/containerd"
ln -sf "$(b containerd-shim-runc-v2 "$CONTAINERD_VERSION")" "$node/bin/containerd-shim-runc-v2"
ln -sf "$CTR" "$node/bin/ctr"
for p in bridge loopback host-local portmap; do ln -sf "$(b "$p" "$CNI_PLUGINS_VERSION")" "$node/cni/bin/$p"; done
cat >"$node/cni/net.d/10-openshell-e2e.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "openshell-e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "$E2E_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$node/cni/ipam",
        "ranges": [[{"subnet": "$E2E_POD_SUBNET", "gateway": "$E2E_BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
cat >"$node/containerd/config.toml" <<TOML
version = 3
root = '$node/containerd/root'
state = '$node/containerd/state'
temp = '$node/containerd/tmp'
imports = []
disabled_plugins = ['io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.blockfile', 'io.containerd.snapshotter.v1.erofs',
  'io.containerd.differ.v1.erofs', 'io.containerd.mount-handler.v1.erofs', 'io.containerd.nri.v1.nri']

[grpc]
  address = '$SOCK'
[ttrpc]
  address = '$SOCK.ttrpc'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'docker.io/$E2E_PAUSE_IMAGE'
  [plugins.'io.containerd.cri.v1.runtime']
    # This machine's bounding set lacks CAP_SYS_RESOURCE: nobody may lower an OOM score.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = ['$node/cdi']
    enable_criu = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '$RUNC'
          Root = '$node/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$node/cni/bin']
      conf_dir = '$node/cni/net.d'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
  [plugins.'io.containerd.internal.v1.opt']
    path = '$node/containerd/opt'
  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = '$node/containerd/opt/image-verifier/bin'
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '$shim_dir'
TOML
node_path="$node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# nsenter, unshare, env and node-ns.sh all exec (no shell function, which would fork): the
# recorded PID is containerd's.
nsenter --net="$NETNS" -- unshare --mount --propagation private -- env PATH="$node_path" TMPDIR="$node/containerd/tmp" \
  "$here/node-ns.sh" "$node" "$node/bin/containerd" --config "$node/containerd/config.toml" \
  >"$dir/logs/containerd.log" 2>&1 &
cpid=$!
echo "$cpid containerd" >>"$dir/pids"
for _ in $(seq 1 100); do
  "$CTR" --address "$SOCK" version >/dev/null 2>&1 && break
  kill -0 "$cpid" 2>/dev/null || die "containerd exited; see $dir/logs/containerd.log"
  sleep 0.1
done
"$CTR" --address "$SOCK" version >/dev/null || die "containerd did not answer on $SOCK"
NODE_MNTNS=$(ns_of "$cpid" mnt)
[ "$NODE_MNTNS" != "$(ns_of $$ mnt)" ] || die "containerd is not in a mount namespace of its own"
record NODE_MNTNS "$NODE_MNTNS"
record CONTAINERD_PID "$cpid"

# --- 8. images ---------------------------------------------------------------------------
log "step 7/9: images (cache: $E2E_CACHE)"
img() { "$here/image.sh" "$@" >/dev/null; }
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-up.XXXXXX")
mkdir -p "$work/pause"
install -m 0755 "$(b pause "$KUBE_VERSION")" "$work/pause/pause"
touch -d @0 "$work/pause/pause" "$work/pause"
img --rootfs "$work/pause" --entrypoint /pause "$E2E_PAUSE_IMAGE"
# The supervisor: /openshell-sandbox and what ldd says it loads, at the paths ldd gives.
sup=$work/supervisor
mkdir -p "$sup/tmp"; chmod 1777 "$sup/tmp"
install -m 0755 "$osh/openshell-sandbox" "$sup/openshell-sandbox"
for lib in $(ldd "$osh/openshell-sandbox" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
  mkdir -p "$sup$(dirname "$lib")"
  cp -L "$lib" "$sup$lib"
done
find "$sup" -exec touch -h -d @0 {} +
# The sidecar topology's network-init runs this image and loads the pod's bypass rules with a
# trusted nft (/usr/sbin/nft, the supervisor's NFT_SEARCH_PATHS): Debian's, from the same apt
# as the host's libraries above, so the layers agree.
nft_layer=$("$here/debian-rootfs.sh" usr-is-merged nftables)
img --rootfs "$sup" --layer "$nft_layer" --entrypoint /openshell-sandbox "$E2E_SUPERVISOR_IMAGE"
rm -rf "$work"
# The driver's launcher (the agent's entrypoint), static, at the path the driver's image uses.
launcher=$("$repo/hack/build-launcher.sh")
img --binary "$launcher=/openshell-launcher" --entrypoint /openshell-launcher "$E2E_LAUNCHER_IMAGE"
agent_layer=$("$here/debian-rootfs.sh" usr-is-merged bash dash coreutils findutils grep sed tar procps \
  iproute2 nftables iptables util-linux mount libgcc-s1)
img --layer "$agent_layer" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd /bin/bash "$E2E_AGENT_IMAGE"

# --- 9. kubelet --------------------------------------------------------------------------
log "step 8/9: kubelet $KUBE_VERSION (inside containerd's mount namespace), node $E2E_NODE_NAME"
cat >"$node/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true, cacheTTL: 10s}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
  webhook: {cacheAuthorizedTTL: 10s, cacheUnauthorizedTTL: 5s}
podLogsDir: $node/pod-logs
volumePluginDir: $node/volume-plugins
resolvConf: $node/resolv.conf
oomScoreAdj: 0
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
YAML
nsenter --mount="/proc/$cpid/ns/mnt" --net="$NETNS" -- "$KUBELET" --config="$node/kubelet.yaml" \
  --kubeconfig="$node/kubelet.kubeconfig" --hostname-override="$E2E_NODE_NAME" --node-ip="$E2E_BRIDGE_IP" \
  --root-dir=/var/lib/kubelet --cert-dir="$node/pki/serving" \
  --node-labels="$E2E_NODE_LABEL_KEY=$E2E_NODE_LABEL_VALUE" \
  --register-with-taints="$E2E_NODE_LABEL_KEY=$E2E_NODE_LABEL_VALUE:NoSchedule" --v="${E2E_KUBELET_VERBOSITY:-2}" \
  >"$dir/logs/kubelet.log" 2>&1 &
kpid=$!
echo "$kpid kubelet" >>"$dir/pids"
record KUBELET_PID "$kpid"
for _ in $(seq 1 120); do
  k get node "$E2E_NODE_NAME" >/dev/null 2>&1 && break
  kill -0 "$kpid" 2>/dev/null || die "kubelet exited; see $dir/logs/kubelet.log"
  sleep 0.5
done
k wait --for=condition=Ready "node/$E2E_NODE_NAME" --timeout=120s >/dev/null ||
  die "node $E2E_NODE_NAME not Ready; see $dir/logs/kubelet.log"
log "  node $E2E_NODE_NAME Ready"

# kube-proxy (nftables, inside the tier's namespace): Services reach their pods, so a pod
# reaches the API server through the kubernetes Service and sandboxes reach a gateway that runs
# as a pod (the chart). Every Service connection is masqueraded: the pods share one bridge
# without br_netfilter, so a reply from a pod must come back through the bridge address.
# E2E_PODS_REACH_API=1 (hack/test-e2e.sh sets it with E2E_CHART=1).
if [ "${E2E_PODS_REACH_API:-}" = 1 ]; then
  cat >"$node/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG}
mode: nftables
hostnameOverride: $E2E_NODE_NAME
clusterCIDR: $E2E_POD_SUBNET
nodePortAddresses: [$E2E_BRIDGE_IP/32]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nftables: {masqueradeAll: true}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  inns "$(b kube-proxy "$KUBE_VERSION")" --config="$node/kube-proxy.yaml" --v=2 >"$dir/logs/kube-proxy.log" 2>&1 &
  ppid=$!
  echo "$ppid kube-proxy" >>"$dir/pids"
  for _ in $(seq 1 100); do
    inns curl -fsS -o /dev/null http://127.0.0.1:10256/healthz 2>/dev/null && break
    kill -0 "$ppid" 2>/dev/null || die "kube-proxy exited; see $dir/logs/kube-proxy.log"
    sleep 0.2
  done
  inns curl -fsS -o /dev/null http://127.0.0.1:10256/healthz || die "kube-proxy not healthy; see $dir/logs/kube-proxy.log"
  log "  kube-proxy (nftables) serving Services"
fi

# --- the environment for tests -----------------------------------------------------------
mkdir -p "$dir/bin"
ln -sf "$KUBECTL" "$dir/bin/kubectl"; ln -sf "$CTR" "$dir/bin/ctr"
ln -sf "$CRICTL" "$dir/bin/crictl"; ln -sf "$CRANE" "$dir/bin/crane"
ln -sf "$(b helm "$HELM_VERSION")" "$dir/bin/helm"
crds=$(cat "$(dirname "$bin")/agent-sandbox-crds-$AGENT_SANDBOX_VERSION.path")
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$SOCK" "$SOCK" >"$dir/crictl.yaml"
cat >"$dir/e2e.env.tmp" <<ENV
# Tier 4, written by hack/e2e/up.sh. KEY=VALUE lines, no quoting (no value has spaces).
# Everything below is reachable only inside NETNS: use hack/e2e/run.sh CMD, or nsenter --net=\$NETNS.
E2E_DIR=$dir
NETNS=$NETNS
NETNS_NAME=$name
BRIDGE=$E2E_BRIDGE
BRIDGE_IP=$E2E_BRIDGE_IP
POD_SUBNET=$E2E_POD_SUBNET
KUBECONFIG=$KUBECONFIG
CLUSTER_DIR=$dir/cluster
KUBECTL=$KUBECTL
CTR=$CTR
CRICTL=$CRICTL
CRANE=$CRANE
E2E_BIN_DIR=$dir/bin
E2E_IMAGE_SH=$here/image.sh
AGENT_SANDBOX_CRDS=$crds/agents.x-k8s.io_sandboxes.yaml
CONTAINERD_ADDRESS=$SOCK
CONTAINERD_NAMESPACE=k8s.io
CONTAINER_RUNTIME_ENDPOINT=unix://$SOCK
IMAGE_SERVICE_ENDPOINT=unix://$SOCK
CRI_CONFIG_FILE=$dir/crictl.yaml
NODE_NAME=$E2E_NODE_NAME
NODE_LABEL=$E2E_NODE_LABEL_KEY=$E2E_NODE_LABEL_VALUE
NODE_LABEL_KEY=$E2E_NODE_LABEL_KEY
NODE_LABEL_VALUE=$E2E_NODE_LABEL_VALUE
NODE_TAINT=$E2E_NODE_LABEL_KEY=$E2E_NODE_LABEL_VALUE:NoSchedule
NODE_ROOT_DIR=$node/varlib/kubelet
POD_LOGS_DIR=$node/pod-logs
CGROUP_ROOT=$CGROUP_ROOT
E2E_PAUSE_IMAGE=$E2E_PAUSE_IMAGE
E2E_AGENT_IMAGE=$E2E_AGENT_IMAGE
E2E_SUPERVISOR_IMAGE=$E2E_SUPERVISOR_IMAGE
E2E_LAUNCHER_IMAGE=$E2E_LAUNCHER_IMAGE
OPENSHELL_BIN_DIR=$osh
E2E_OPENSHIFT=${E2E_OPENSHIFT:-0}
ENV
mv "$dir/e2e.env.tmp" "$dir/e2e.env"

# --- smoke: a plain pod on the real node, exec into it, delete it --------------------------
if [ "${E2E_SKIP_SMOKE:-}" != 1 ]; then
  log "step 9/9: smoke pod on $E2E_NODE_NAME"
  t=$(date +%s%N)
  k apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: e2e-smoke, namespace: default}
spec:
  nodeSelector: {$E2E_NODE_LABEL_KEY: $E2E_NODE_LABEL_VALUE}
  tolerations: [{key: $E2E_NODE_LABEL_KEY, operator: Equal, value: $E2E_NODE_LABEL_VALUE, effect: NoSchedule}]
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: $E2E_AGENT_IMAGE, imagePullPolicy: Never, command: [sleep, "3600"]}
POD
  k wait --for=jsonpath='{.status.phase}'=Running pod/e2e-smoke --timeout=120s >/dev/null || {
    k describe pod e2e-smoke >&2 || true; die "smoke pod not Running"; }
  running_ms=$(elapsed_ms "$t")
  # shellcheck disable=SC2016 # expanded inside the pod
  out=$(k exec e2e-smoke -- sh -c 'echo "uid=$(id -u) $(nsenter --version | head -n1)"; ip -4 -o addr show dev eth0 | awk "{print \"eth0 \" \$4}"')
  log "  pod Running $(fmt_ms "$running_ms") after apply; kubectl exec: $(echo "$out" | tr '\n' ' ' | tr -s ' ')"
  k delete pod e2e-smoke --wait=true --timeout=60s >/dev/null
  echo "$running_ms" >"$dir/logs/smoke-running-ms"
fi

trap - EXIT
log "tier 4 up in $(fmt_ms "$(elapsed_ms "$e2e_t0")"); env: $dir/e2e.env (hack/e2e/run.sh CMD...)"
{
  echo "logs:"
  for f in "$dir"/cluster/logs/*.log; do echo "  $(basename "$f" .log): $f"; done
  echo "  containerd: $dir/logs/containerd.log"
  echo "  kubelet: $dir/logs/kubelet.log"
  echo "  containers: $node/pod-logs/"
} >&2
