#!/usr/bin/env bash
# Starts a real Kubernetes control plane on 127.0.0.1 without Docker: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (two fake nodes) and the agent-sandbox
# controller, with generated PKI, in one per-run directory.
#
#   hack/cluster/up.sh [--openshift] [DIR]     default DIR: .cluster/ in the repository
# --openshift: a cluster that decides like OpenShift where sandbox pods and Routes are concerned
# (hack/cluster/openshift.sh): OpenShift's real CRDs and default SCCs, its own SCC admission and
# Route validation/host assignment as URL webhooks, namespaces annotated with UID/MCS ranges as
# cluster-policy-controller does, ServiceAccount admission and OpenShift's default-on plugins,
# and the agent-sandbox controller under its own ServiceAccount with its chart's RBAC.
# Prints `export KUBECONFIG=...`; stop with hack/cluster/down.sh [DIR].
# For a real kubelet beside the fake nodes (tier 4, hack/e2e/up.sh), these switches:
#   CLUSTER_KUBELET_CLIENT=1        the API server gets a client certificate for the kubelets
#                                   (exec, logs, port-forward) and prefers their InternalIP
#   CLUSTER_KWOK_NODE_SELECTOR=SEL  kwok manages only the nodes with these labels (nodes.yaml
#                                   labels its nodes type=kwok) instead of every node
#   CLUSTER_PODS_REACH_API=IP       pods reach the API server (a driver or gateway running as a
#                                   pod): it listens on every address of its network namespace
#                                   (tier 4's own), advertises IP for the kubernetes Service, and
#                                   the ServiceAccount admission plugin mounts pods' tokens
# For load (make bench-cluster):
#   CLUSTER_NODE_PODS=N             each fake node holds N pods (default 250), with 1 CPU and
#                                   1Gi per pod (default 32 CPUs and 128Gi), so that requests
#                                   never limit it before the pod count does
#   CLUSTER_CLIENT_QPS=Q            kube-controller-manager and kube-scheduler may send Q requests/s
#                                   (burst 2Q) instead of their defaults (20 and 50)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.env"
openshift=
if [ "${1:-}" = "--openshift" ]; then openshift=1; shift; fi
dir=$(mkdir -p "${1:-$repo/.cluster}" && cd "${1:-$repo/.cluster}" && pwd)
start=$(date +%s)
log() { printf '[cluster-up %3ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }

if [ -s "$dir/pids" ]; then
  echo "a cluster is already recorded in $dir (run hack/cluster/down.sh $dir first)" >&2
  exit 1
fi
bin=$("$here/build.sh")
cache=$(dirname "$bin")
crds=$(cat "$cache/agent-sandbox-crds-$AGENT_SANDBOX_VERSION.path")
b() { echo "$bin/$1-$2"; }
KUBECTL=$(b kubectl "$KUBE_VERSION")
mkdir -p "$dir/pki" "$dir/logs" "$dir/etcd"
: >"$dir/pids"

# If anything below fails, stop what was started so no process outlives the run.
trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed (rc=$rc); logs in $dir/logs"; "$here/down.sh" "$dir" >/dev/null 2>&1 || true; fi' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
run() { # name command...
  local name=$1; shift
  "$@" >"$dir/logs/$name.log" 2>&1 &
  echo "$! $name" >>"$dir/pids"
}
wait_http() { # what url [curl args]
  local what=$1 url=$2; shift 2
  for _ in $(seq 1 240); do
    if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then log "$what healthy"; return 0; fi
    sleep 0.5
  done
  log "$what did not become healthy at $url"; tail -n 20 "$dir/logs/$what.log" >&2 || true; return 1
}

log "generating PKI in $dir/pki"
(
  cd "$dir/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=openshell-test-ca" 2>/dev/null
  cat >apiserver.ext <<EXT
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
extendedKeyUsage=serverAuth
EXT
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile apiserver.ext 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 2 -extfile client.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  if [ "${CLUSTER_KUBELET_CLIENT:-}" = 1 ]; then
    openssl req -newkey rsa:2048 -nodes -keyout kubelet-client.key -out kubelet-client.csr -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out kubelet-client.crt -days 2 -extfile client.ext 2>/dev/null
  fi
)
# shellcheck source=openshift.sh
[ -n "$openshift" ] && . "$here/openshift.sh" && openshift_pki
admission_plugins=--disable-admission-plugins=ServiceAccount
[ -n "$openshift" ] && admission_plugins=--enable-admission-plugins=$OPENSHIFT_ADMISSION_PLUGINS
apiserver_kubelet=""
if [ "${CLUSTER_KUBELET_CLIENT:-}" = 1 ]; then
  apiserver_kubelet=" --kubelet-client-certificate=$dir/pki/kubelet-client.crt --kubelet-client-key=$dir/pki/kubelet-client.key --kubelet-preferred-address-types=InternalIP"
fi
api_bind=127.0.0.1 api_advertise=127.0.0.1
if [ -n "${CLUSTER_PODS_REACH_API:-}" ]; then
  api_bind=0.0.0.0 api_advertise=$CLUSTER_PODS_REACH_API
  # Pods that reach the API server need their ServiceAccount tokens (--openshift already has it).
  [ -n "$openshift" ] || admission_plugins=--enable-admission-plugins=ServiceAccount
fi
kwok_nodes=--manage-all-nodes=true
if [ -n "${CLUSTER_KWOK_NODE_SELECTOR:-}" ]; then kwok_nodes=--manage-nodes-with-label-selector=$CLUSTER_KWOK_NODE_SELECTOR; fi

etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port)
kcm_port=$(free_port); sched_port=$(free_port); kwok_port=$(free_port)
ctrl_metrics=$(free_port); ctrl_health=$(free_port)
cat >"$dir/ports.env" <<PORTS
ETCD_PORT=$etcd_port
API_PORT=$api_port
PORTS

kubeconfig="$dir/kubeconfig"
cat >"$kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $dir/pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $dir/pki/admin.crt
    client-key: $dir/pki/admin.key
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC

log "starting etcd $ETCD_VERSION"
run etcd "$(b etcd "$ETCD_VERSION")" --name default --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "default=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --quota-backend-bytes 2147483648
wait_http etcd "http://127.0.0.1:$etcd_port/health"

# The apiserver's command line is kept so that tests can restart it (watch-resume test).
cat >"$dir/apiserver.cmd" <<CMD
$(b kube-apiserver "$KUBE_VERSION") --etcd-servers=http://127.0.0.1:$etcd_port --bind-address=$api_bind --advertise-address=$api_advertise --secure-port=$api_port --tls-cert-file=$dir/pki/apiserver.crt --tls-private-key-file=$dir/pki/apiserver.key --client-ca-file=$dir/pki/ca.crt --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file=$dir/pki/sa.pub --service-account-signing-key-file=$dir/pki/sa.key --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=RBAC $admission_plugins --allow-privileged=true --profiling=false --cert-dir=$dir/pki/apiserver-certs$apiserver_kubelet
CMD
log "starting kube-apiserver $KUBE_VERSION on 127.0.0.1:$api_port"
# shellcheck disable=SC2046
run kube-apiserver $(cat "$dir/apiserver.cmd")
wait_http kube-apiserver "https://127.0.0.1:$api_port/readyz" --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key"

client_qps=()
if [ -n "${CLUSTER_CLIENT_QPS:-}" ]; then
  client_qps=(--kube-api-qps="$CLUSTER_CLIENT_QPS" --kube-api-burst=$(( 2 * CLUSTER_CLIENT_QPS )))
fi
log "starting kube-controller-manager and kube-scheduler"
run kube-controller-manager "$(b kube-controller-manager "$KUBE_VERSION")" --kubeconfig="$kubeconfig" --leader-elect=false \
  --bind-address=127.0.0.1 --secure-port="$kcm_port" --service-account-private-key-file="$dir/pki/sa.key" \
  --root-ca-file="$dir/pki/ca.crt" --cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" \
  --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route' \
  --concurrent-gc-syncs=10 --cert-dir="$dir/pki/kcm-certs" "${client_qps[@]}"
run kube-scheduler "$(b kube-scheduler "$KUBE_VERSION")" --kubeconfig="$kubeconfig" --leader-elect=false \
  --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$dir/pki/sched-certs" "${client_qps[@]}"
wait_http kube-controller-manager "https://127.0.0.1:$kcm_port/healthz" -k
wait_http kube-scheduler "https://127.0.0.1:$sched_port/healthz" -k

log "starting kwok $KWOK_VERSION"
kwok_stages=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
[ -d "$kwok_stages" ] || (cd "$cache/src/kwok-$KWOK_VERSION" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION")
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cat "$kwok_stages/$f"; echo "---"
done >"$dir/kwok-stages.yaml"
run kwok "$(b kwok "$KWOK_VERSION")" --kubeconfig="$kubeconfig" "$kwok_nodes" --cidr=10.244.0.0/16 \
  --node-ip=127.0.0.1 --node-lease-duration-seconds=40 --config="$dir/kwok-stages.yaml" --server-address="127.0.0.1:$kwok_port"
wait_http kwok "http://127.0.0.1:$kwok_port/healthz"

k() { "$KUBECTL" --kubeconfig="$kubeconfig" "$@"; }
log "creating fake nodes (node-plain; node-gpu with nvidia.com/gpu: 2)"
node_sizes="s/pods: \"250\"/pods: \"${CLUSTER_NODE_PODS:-250}\"/g"
if [ -n "${CLUSTER_NODE_PODS:-}" ]; then
  node_sizes="$node_sizes;s/cpu: \"32\"/cpu: \"$CLUSTER_NODE_PODS\"/g;s/memory: 128Gi/memory: ${CLUSTER_NODE_PODS}Gi/g"
fi
sed "$node_sizes" "$here/manifests/nodes.yaml" | k apply -f - >/dev/null
k wait --for=condition=Ready node/node-plain node/node-gpu --timeout=60s >/dev/null

log "installing the agent-sandbox $AGENT_SANDBOX_VERSION CRDs from $crds"
k apply --server-side -f "$crds" >/dev/null
k wait --for=condition=Established crd --all --timeout=60s >/dev/null
k create namespace agent-sandbox-system >/dev/null
controller_kubeconfig=$kubeconfig
if [ -n "$openshift" ]; then
  openshift_start
  openshift_controller_identity
  controller_kubeconfig=$dir/controller.kubeconfig
  touch "$dir/openshift"
fi

log "starting agent-sandbox-controller $AGENT_SANDBOX_VERSION"
# Webhooks off: the apiserver cannot reach a webhook Service without kube-proxy, and the
# driver uses v1beta1, the storage version, which needs no conversion.
run agent-sandbox-controller "$(b agent-sandbox-controller "$AGENT_SANDBOX_VERSION")" --kubeconfig="$controller_kubeconfig" \
  --leader-elect=false --enable-webhook=false --manage-webhook-certs=false \
  --metrics-bind-address="127.0.0.1:$ctrl_metrics" --health-probe-bind-address="127.0.0.1:$ctrl_health"
wait_http agent-sandbox-controller "http://127.0.0.1:$ctrl_health/readyz"

trap - EXIT
log "cluster ready in $(( $(date +%s) - start ))s"
echo "export KUBECONFIG=$kubeconfig"
