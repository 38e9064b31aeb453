#!/usr/bin/env bash
# Tier 4: the chart installed for real. The driver's image from `make image` and a test-only
# gateway image (the real openshell-gateway of OPENSHELL_BIN_DIR, never shipped) are imported
# into the node's containerd; then the README's install commands run in order (the block
# between <!-- install:begin --> and <!-- install:end -->), and the real CLI, through the in-cluster gateway, creates a sandbox, waits for
# Ready, execs in it, survives a `helm upgrade` to a rebuilt driver image, deletes it, and
# `helm uninstall` removes everything the chart made. Run inside the tier (hack/e2e/run.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
E2E_LOG_NAME=e2e-chart
: "${E2E_DIR:?run through hack/e2e/run.sh}" "${OPENSHELL_BIN_DIR:?}"
osh=$OPENSHELL_BIN_DIR
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-chart.XXXXXX")
pf_pid=""
export NS=openshell-system RELEASE=openshell
svc=$RELEASE-openshell-driver-openshift
cleanup() {
  if [ -n "$pf_pid" ]; then kill "$pf_pid" 2>/dev/null || true; wait "$pf_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-}" != 1 ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT
fail() { log "FAILED: $*"; kubectl -n "$NS" get all,pvc,secrets -o wide >&2 || true
  kubectl -n "$NS" logs "deploy/$svc" --all-containers --tail=40 >&2 || true; exit 1; }

# --- images (what a registry would serve) -------------------------------------------------
# The archive names its image index (`make image` annotates index.json), so the import makes
# `repo:<version>` pointing at the printed digest. A pod's `repo:tag@digest` is looked up as
# `repo@digest` (containerd drops the tag when a digest is given), which a registry pull would
# also have recorded: that name and the tag are added.
import_image() { # archive tag digest
  local repo_name=ghcr.io/openshell/openshell-driver-openshift version
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
  ctr -n k8s.io images import --platform linux/amd64 "$1" >/dev/null
  local target
  target=$(ctr -n k8s.io images ls name=="$repo_name:$version" | awk 'NR==2 {print $3}')
  [ "$target" = "$3" ] || die "imported $repo_name:$version is ${target:-missing}, image.env says $3"
  ctr -n k8s.io images tag --force "$repo_name:$version" "$repo_name@$3" >/dev/null
  [ "$2" = "$version" ] || ctr -n k8s.io images tag --force "$repo_name:$version" "$repo_name:$2" >/dev/null
}
archive=$(sed -n 's/^IMAGE_ARCHIVE=//p' "$repo/target/image/image.env")
digest=$(sed -n 's/^IMAGE_DIGEST=//p' "$repo/target/image/image.env")
[ -s "$archive" ] || die "no driver image: run make image first"
import_image "$archive" 0.1.0 "$digest"
log "driver image imported ($digest)"
gw=$work/gateway
mkdir -p "$gw/tmp"; chmod 1777 "$gw/tmp"
install -m 0755 "$osh/openshell-gateway" "$gw/openshell-gateway"
for lib in $(ldd "$osh/openshell-gateway" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
  mkdir -p "$gw$(dirname "$lib")"; cp -L "$lib" "$gw$lib"
done
find "$gw" -exec touch -h -d @0 {} +
"$E2E_IMAGE_SH" --rootfs "$gw" --entrypoint /openshell-gateway openshell-e2e/gateway:dev >/dev/null

# --- what a cluster admin provides: storage for the gateway's PVC (no provisioner here) ----
pv=$E2E_DIR/pv/gateway
mkdir -p "$pv"; chown 65532:65532 "$pv"
# On OpenShift restricted-v2 gives the gateway a UID of the namespace's range, and a hostPath
# volume gets no fsGroup ownership: the storage must let any UID write, as an admin's would.
[ "${E2E_OPENSHIFT:-0}" != 1 ] || chmod 0777 "$pv"
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-chart-gateway}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: $pv, type: Directory}
YAML
# And for the sandbox's workspace claim (the chart's default, --workspace-volume persistent):
# 2Gi, so that the gateway's smaller claim binds the volume above.
mkdir -p "$pv-workspace"
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-chart-workspace}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: $pv-workspace, type: Directory}
YAML

# --- the README's commands ----------------------------------------------------------------
# Tier 4 has no cluster DNS: sandboxes reach the gateway at a fixed ClusterIP (kube-proxy).
export GATEWAY_IP=10.96.0.80
export XDG_CONFIG_HOME=$work/cli NO_COLOR=1
export HELM_EXTRA="--set gateway.image.repository=openshell-e2e/gateway --set gateway.image.tag=dev
  --set gateway.clusterIP=$GATEWAY_IP --set driver.gatewayEndpoint=https://$GATEWAY_IP:8080
  --set driver.supervisorImage=$E2E_SUPERVISOR_IMAGE --set driver.image.digest=$digest"
# The OpenShift tier (E2E_OPENSHIFT=1): the README's "On OpenShift add" line.
[ "${E2E_OPENSHIFT:-0}" != 1 ] || HELM_EXTRA="$HELM_EXTRA --set openshift.enabled=true"
export SERVER_SAN=$GATEWAY_IP PATH="$osh:$PATH"
sed -n '/<!-- install:begin -->/,/<!-- install:end -->/p' "$repo/README.md" | sed '1,2d; $d' | sed '$d' >"$work/install.sh"
grep -q '^helm install' "$work/install.sh" || die "no install block in README.md"
t0=$(date +%s%N)
# The last command, the port-forward, stays in the foreground: wait for it to forward.
(cd "$repo" && exec bash -euo pipefail "$work/install.sh") >"$work/install.log" 2>&1 & pf_pid=$!
for _ in $(seq 1 600); do
  grep -q '^Forwarding from 127.0.0.1:8443' "$work/install.log" && break
  kill -0 "$pf_pid" 2>/dev/null || { cat "$work/install.log" >&2; fail "the README's install commands"; }
  sleep 0.5
done
grep -q '^Forwarding from' "$work/install.log" || { cat "$work/install.log" >&2; fail "install within 300 s"; }
log "helm install: gateway and driver pods Ready in $(fmt_ms "$(elapsed_ms "$t0")")"
kubectl -n "$NS" get pods -o wide >&2
if [ "${E2E_OPENSHIFT:-0}" = 1 ]; then
  # OpenShift's own SCC admission chose for the chart's pods: restricted-v2, as for any workload.
  sccs=$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=$RELEASE -o jsonpath='{range .items[*]}{.metadata.annotations.openshift\.io/scc}{"\n"}{end}' | sort -u)
  [ "$sccs" = restricted-v2 ] || fail "the chart's pods were admitted under '${sccs//$'\n'/, }', not restricted-v2"
  log "OpenShift's SCC admission admitted the chart's pods under restricted-v2"
fi

# The static binary in the image resolves a name (/etc/hosts, through glibc's built-in NSS) and
# talks TLS to the API server by it: `check` in a pod of the image, read-only root, as 65532.
kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: image-check}
spec:
  restartPolicy: Never
  serviceAccountName: $svc
  hostAliases: [{ip: 10.96.0.1, hostnames: [kubernetes.default.svc]}]
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: check
      image: ghcr.io/openshell/openshell-driver-openshift:0.1.0@$digest
      args: [check, --namespace, $NS]
      env: [{name: KUBERNETES_SERVICE_HOST, value: kubernetes.default.svc}]
      securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
YAML
for _ in $(seq 1 300); do
  case $(kubectl -n "$NS" get pod image-check -o jsonpath='{.status.phase}') in Succeeded|Failed) break ;; esac
  sleep 0.2
done
kubectl -n "$NS" logs image-check >"$work/check.log" 2>&1 || true
grep -q '^PASS  api-server .*reachable' "$work/check.log" || { cat "$work/check.log" >&2; fail "check from the image by name"; }
log "the image's driver reached the API server by name over TLS: $(grep '^PASS  api-server' "$work/check.log" | tr -s ' ')"
kubectl -n "$NS" delete pod image-check --wait=false >/dev/null

cli() { openshell -g openshell "$@" </dev/null; }
phase() { cli sandbox get "$1" -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("phase",""))' 2>/dev/null || true; }
wait_phase() { # name phase seconds
  for _ in $(seq 1 $(($3 * 5))); do
    p=$(phase "$1"); [ "$p" = "$2" ] && return 0
    [ "$p" = Error ] && fail "$1 entered Error"
    sleep 0.2
  done
  fail "$1 not $2 within $3 s (last: $(phase "$1"))"
}
listed() { cli sandbox list 2>/dev/null | awk 'NR>1 {print $1}' | grep -cx "$1" || true; }

t0=$(date +%s%N)
cli sandbox create --name chart --from "$E2E_AGENT_IMAGE" --no-tty --detach -- sleep infinity >"$work/create.log" 2>&1 ||
  { cat "$work/create.log" >&2; fail "sandbox create"; }
wait_phase chart Ready 120
log "sandbox Ready through the in-cluster gateway in $(fmt_ms "$(elapsed_ms "$t0")")"
if [ "${E2E_OPENSHIFT:-0}" = 1 ]; then
  scc=$(kubectl -n "$NS" get pods -l openshell.ai/sandbox-name=chart -o jsonpath='{.items[0].metadata.annotations.openshift\.io/scc}')
  [ "$scc" = openshell-sandbox ] || fail "the sandbox pod was admitted under '$scc', not the chart's openshell-sandbox SCC"
  log "the sandbox pod was admitted under the chart's openshell-sandbox SCC"
fi
out=$(cli sandbox exec --name chart --no-tty -- sh -c 'echo exec-ok; id -u')
echo "$out" | grep -qx exec-ok || fail "exec: $out"
log "exec works ($(echo "$out" | tr '\n' ' '))"
# The workspace is the claim, seeded from the image: /sandbox is a mount, owned by the user the
# agent runs as (the image's sandbox user; on OpenShift the namespace's UID, the seed's --owner).
ws=$(cli sandbox exec --name chart --no-tty -- sh -c 'grep -c " /sandbox " /proc/mounts; stat -c %u /sandbox; ls -A /sandbox')
[ "$(echo "$ws" | sed -n 1p)" = 1 ] && [ "$(echo "$ws" | sed -n 2p)" = "$(echo "$out" | sed -n 2p)" ] &&
  echo "$ws" | grep -qx .workspace-initialized ||
  fail "/sandbox is not the seeded workspace claim: $ws"
kubectl -n "$NS" get pvc -l openshell.ai/sandbox-name=chart -o name | grep -q . || fail "no workspace claim for the sandbox"
log "/sandbox is the sandbox's seeded workspace claim"

# --- helm upgrade to a rebuilt driver image, the sandbox running ---------------------------
old_pod=$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=$RELEASE -o jsonpath='{.items[0].metadata.name}')
# hack/test-e2e.sh built it: the same commit with another SOURCE_DATE_EPOCH, another digest.
rebuilt=$(sed -n 's/^IMAGE_ARCHIVE=//p' "$repo/target/image-rebuilt/image.env")
rebuilt_digest=$(sed -n 's/^IMAGE_DIGEST=//p' "$repo/target/image-rebuilt/image.env")
[ "$rebuilt_digest" != "$digest" ] || fail "the rebuilt image has the same digest"
import_image "$rebuilt" 0.1.0-rebuilt "$rebuilt_digest"
helm upgrade "$RELEASE" "$repo/charts/openshell-driver-openshift" -n "$NS" --reuse-values \
  --set driver.image.tag=0.1.0-rebuilt --set driver.image.digest="$rebuilt_digest" --wait --timeout 180s >/dev/null ||
  fail "helm upgrade"
new_pod=$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=$RELEASE --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
[ "$new_pod" != "$old_pod" ] || fail "helm upgrade did not replace the pod"
kill "$pf_pid" 2>/dev/null || true; wait "$pf_pid" 2>/dev/null || true
kubectl -n "$NS" port-forward "svc/$svc" 8443:8080 >"$work/pf.log" 2>&1 & pf_pid=$!
for _ in $(seq 1 50); do cli sandbox list >/dev/null 2>&1 && break; sleep 0.2; done
wait_phase chart Ready 60
[ "$(listed chart)" = 1 ] || fail "after the upgrade the sandbox is listed $(listed chart) times"
cli sandbox exec --name chart --no-tty -- true || fail "exec after the upgrade"
log "helm upgrade ($old_pod -> $new_pod): the sandbox stayed Ready, listed once, exec works"

# --- delete, uninstall --------------------------------------------------------------------
cli sandbox delete chart >/dev/null || fail "sandbox delete"
for _ in $(seq 1 300); do
  [ -z "$(kubectl -n "$NS" get sandboxes,pods,pvc -l openshell.ai/sandbox-name=chart -o name 2>/dev/null)" ] && break
  sleep 0.2
done
[ -z "$(kubectl -n "$NS" get sandboxes,pods,pvc -l openshell.ai/sandbox-name=chart -o name)" ] || fail "delete left objects"
log "delete: Sandbox, Pod and workspace claim gone"
kill "$pf_pid" 2>/dev/null || true; wait "$pf_pid" 2>/dev/null || true; pf_pid=""
helm uninstall "$RELEASE" -n "$NS" --wait --timeout 120s >/dev/null || fail "helm uninstall"
left=$(kubectl -n "$NS" get all,configmaps,pvc,serviceaccounts,roles,rolebindings,networkpolicies -l app.kubernetes.io/instance=$RELEASE -o name)
[ -z "$left" ] || fail "helm uninstall left: $left"
left=$(kubectl get clusterroles,clusterrolebindings -l app.kubernetes.io/instance=$RELEASE -o name)
[ -z "$left" ] || fail "helm uninstall left: $left"
log "helm uninstall: nothing the chart made is left (the Secrets of generate-certs and the namespace are the user's)"
kubectl delete namespace "$NS" --wait=false >/dev/null
kubectl delete pv e2e-chart-gateway e2e-chart-workspace --ignore-not-found --wait=false >/dev/null  # Delete reclaim may have taken them
echo "tier 4 chart: passed"
