#!/usr/bin/env bash
# The driver's main job, end to end, with one command: build, start a local cluster (real
# kube-apiserver + agent-sandbox controller + kwok nodes), run the driver on its socket, walk
# one sandbox through create, Ready, endpoint, stop, start and delete, then tear it all down
# (also on Ctrl-C or failure).
#
# `hack/demo.sh --openshift` (make demo-openshift) does the same on a cluster started with
# `up.sh --openshift`: OpenShift's own CRDs, default SCCs, SCC admission and Route host
# assignment decide, and the sandbox is exposed behind the OAuth proxy.
set -euo pipefail
openshift=
[ "${1:-}" = "--openshift" ] && openshift=1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
t0=$(date +%s%N)
step() {
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '\n\033[1m==> [%4d.%ds] %s\033[0m\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"
}

step "building the driver"
cargo build --locked --quiet
driver_bin=$repo/target/debug/openshell-driver-openshift

step "building (first run) or reusing the cluster binaries"
"$here/cluster/build.sh" >/dev/null

dir=$(mktemp -d "${TMPDIR:-/tmp}/openshell-demo.XXXXXX")
driver_pid=
cleanup() {
  step "tearing down"
  [ -n "$driver_pid" ] && kill -TERM "$driver_pid" 2>/dev/null && wait "$driver_pid" 2>/dev/null || true
  "$here/cluster/down.sh" "$dir" >/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting the local cluster"
eval "$("$here/cluster/up.sh" ${openshift:+--openshift} "$dir")"
. "$here/cluster/versions.env"
kubectl=$(dirname "$("$here/cluster/build.sh")")/bin/kubectl-$KUBE_VERSION
"$kubectl" create namespace openshell-system >/dev/null
platform=(--platform kubernetes)
if [ -n "$openshift" ]; then
  step "the namespace's UID range and MCS label, as OpenShift's namespace allocator gives them"
  for _ in $(seq 1 100); do
    "$kubectl" get namespace openshell-system -o jsonpath='{.metadata.annotations}' | grep -q sa.scc.mcs && break
    sleep 0.1
  done
  "$kubectl" get namespace openshell-system -o jsonpath='{.metadata.annotations}{"\n"}'
  platform=(--platform auto)
fi

step "starting the driver on $dir/driver/driver.sock"
sock=$dir/driver/driver.sock
metrics=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$driver_bin" --socket "$sock" --namespace openshell-system --gateway-id demo --metrics-bind-address "$metrics" \
  "${platform[@]}" --gateway-endpoint http://openshell-gateway.openshell-system.svc:8080 \
  --workspace-volume ephemeral 2>"$dir/driver.log" &
driver_pid=$!
client() { "$driver_bin" client --socket "$sock" "$@"; }
for _ in $(seq 1 100); do client capabilities >/dev/null 2>&1 && break; sleep 0.1; done
client capabilities

if [ -n "$openshift" ]; then
  step "create before the SCC is installed and granted: refused, saying what to do"
  client create -f examples/sandbox-openshift.yaml || true
  step "oc apply -f deploy/openshift/scc.yaml (the openshell-sandbox SCC and its use grant)"
  "$kubectl" apply -f deploy/openshift/scc.yaml
  step "create an exposed sandbox (examples/sandbox-openshift.yaml)"
  id=$(client create -f examples/sandbox-openshift.yaml)
  echo "sandbox id: $id"
  step "what the API server stored"
  "$kubectl" get sandbox default--notebook -n openshell-system \
    -o jsonpath='required-scc: {.spec.podTemplate.metadata.annotations.openshift\.io/required-scc}{"\n"}containers: {.spec.podTemplate.spec.containers[*].name}{"\n"}'
  "$kubectl" get route,service,secret -n openshell-system
  step "the Pod OpenShift's SCC admission stored"
  for _ in $(seq 1 100); do "$kubectl" get pod default--notebook -n openshell-system >/dev/null 2>&1 && break; sleep 0.2; done
  "$kubectl" get pod default--notebook -n openshell-system \
    -o jsonpath='openshift.io/scc: {.metadata.annotations.openshift\.io/scc}{"\n"}fsGroup: {.spec.securityContext.fsGroup}  seLinux level: {.spec.securityContext.seLinuxOptions.level}{"\n"}'
else
  step "create (ValidateSandboxCreate + CreateSandbox)"
  id=$(client create --name demo --image registry.example/agent:1 --cpu 500m --memory 512Mi --env GREETING=hello)
  echo "sandbox id: $id"
fi

step "watch until Ready"
client wait "$id" --for ready --timeout 60s
client list

step "endpoint (ResolveSandboxEndpoint)"
client endpoint "$id"

step "stop (returns once Suspended=True)"
client stop "$id"
client get "$id"

step "start, and watch until Ready again"
client start "$id"
client wait "$id" --for ready --timeout 60s

step "delete"
client delete "$id"
for _ in $(seq 1 100); do client get "$id" >/dev/null 2>&1 || break; sleep 0.2; done
client delete "$id"
echo "the Sandbox, its Pod and its token Secret are garbage-collected by the cluster"
if [ -n "$openshift" ]; then
  # The garbage collector learns of the Route kind (installed a moment ago) on its next resync.
  for _ in $(seq 1 450); do
    [ -z "$("$kubectl" get routes,services,secrets -n openshell-system -o name | grep -v kube-root)" ] && break
    sleep 0.2
  done
  echo "and so are its Route, Service and cookie Secret:"
  "$kubectl" get route,service,secret -n openshell-system
fi

step "what the driver counted (http://$metrics/metrics)"
curl -fsS "http://$metrics/metrics" | grep -E '^openshell_driver_(sandboxes_(created|deleted)_total|grpc_requests_total|kube_requests_total)' | head -20

step "done"
