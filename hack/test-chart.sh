#!/usr/bin/env bash
# Chart tests: helm lint and helm template of the main value combinations against golden files
# (UPDATE_GOLDEN=1 rewrites them). With KUBECONFIG set, every rendered manifest is also applied
# with a server-side dry-run to that API server, and tier 3's core scenarios run with exactly the
# chart's RBAC.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/cluster/versions.env"
bin=$("$here/cluster/build.sh")
helm="$bin/helm-$HELM_VERSION"
kubectl="$bin/kubectl-$KUBE_VERSION"
chart="$repo/charts/openshell-driver-openshift"
golden="$repo/tests/golden/chart"
mkdir -p "$golden"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

combos=(
  "default|"
  "openshift|--set openshift.enabled=true --set metrics.serviceMonitor.enabled=true"
  "sidecar|--set gateway.enabled=false"
  "managed|--set workspaceMode=managed --set driver.clientTlsSecret=openshell-client-tls --set driver.imagePullSecrets={openshell-image-pull}"
  "network|--set driver.gatewayIngressOnly=true --set driver.enableUserNamespaces=true --set driver.httpsProxy=http://proxy.corp.example:3128 --set driver.noProxy=.svc --set driver.proxyAuthSecretName=corp-proxy --set driver.proxyAuthSecretKey=credentials --set driver.proxyAuthAllowInsecure=true"
  "topology|--set driver.topology=sidecar --set driver.sidecarProxyUid=2000 --set driver.sidecarProcessBinaryAwareNetworkPolicy=false --set openshift.enabled=true"
  "openshift-managed|--set openshift.enabled=true --set workspaceMode=managed"
  "operator|--set workspaceMode=operator --set operatorNamespaceLabel=openshell.ai/workspace=true"
  "openshift-operator|--set openshift.enabled=true --set workspaceMode=operator --set operatorNamespaces={team-a,team-b}"
  "volumes|--set driver.providerSpiffeSocket=/spiffe-workload-api/spire-agent.sock"
  "warm|--set-json driver.warmPool.profiles=[{\"name\":\"python\",\"size\":3,\"maxAge\":\"30m\",\"template\":{\"image\":\"quay.io/example/python:3\",\"resources\":{\"cpuRequest\":\"500m\"}}}]"
  "pinned|--set driver.image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --set gateway.persistence.enabled=false --set gateway.clusterIP=10.96.0.80"
)
"$helm" lint --strict "$chart"
failed=0
for combo in "${combos[@]}"; do
  name=${combo%%|*}; flags=${combo#*|}
  # shellcheck disable=SC2086
  "$helm" lint --strict "$chart" $flags >/dev/null
  # shellcheck disable=SC2086
  "$helm" template openshell "$chart" --namespace openshell-system $flags >"$work/$name.yaml"
  if [ -n "${UPDATE_GOLDEN:-}" ]; then cp "$work/$name.yaml" "$golden/$name.yaml"; fi
  if diff -u "$golden/$name.yaml" "$work/$name.yaml"; then echo "chart: $name renders as its golden file"
  else echo "chart: $name differs from tests/golden/chart/$name.yaml (UPDATE_GOLDEN=1 after review)"; failed=1; fi
done
for bad in workspaceMode=bogus driver.image.digest=latest driver.image.digest=sha256:abc operatorNamespaces={Team_A} 'operatorNamespaceLabel=a in (b)' driver.imagePullSecrets={Bad_Name} driver.providerSpiffeSocket=/agent.sock driver.providerSpiffeSocket=spiffe/agent.sock driver.workspaceVolume.mode=pvc driver.workspaceVolume.size=0 driver.workspaceVolume.size=lots driver.workspaceVolume.accessMode=rwo driver.workspaceVolume.storageClass=Fast_SSD 'driver.warmPool.profiles[0].name=Py,driver.warmPool.profiles[0].template.image=i:1' 'driver.warmPool.profiles[0].name=py,driver.warmPool.profiles[0].template.image=i:1,driver.warmPool.profiles[0].size=101' 'driver.warmPool.profiles[0].name=py'; do
  if "$helm" template openshell "$chart" --set "$bad" >/dev/null 2>&1; then
    echo "chart: values.schema.json accepted $bad"; failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

if [ -z "${KUBECONFIG:-}" ]; then
  echo "chart: SKIPPED the server-side dry-run and the RBAC run: no KUBECONFIG (make test-integration runs them)" >&2
  exit 0
fi
k() { "$kubectl" --kubeconfig="$KUBECONFIG" "$@"; }
k apply --server-side -f "$here/cluster/manifests/chart-crds.yaml" >/dev/null
while read -r crd; do k apply --server-side -f "$crd" >/dev/null; done <"$(dirname "$bin")/openshift-crds.list"
k wait --for=condition=Established crd/servicemonitors.monitoring.coreos.com crd/securitycontextconstraints.security.openshift.io crd/routes.route.openshift.io --timeout=60s >/dev/null
k get namespace openshell-system >/dev/null 2>&1 || k create namespace openshell-system >/dev/null
for combo in "${combos[@]}"; do
  name=${combo%%|*}
  k apply --dry-run=server -f "$work/$name.yaml" >/dev/null
  echo "chart: $name accepted by the API server (server-side dry-run)"
done

# Tier 3 with the chart's own RBAC: the ServiceAccount, Role(Binding) and ClusterRole(Binding).
"$helm" template openshell "$chart" --namespace openshell-system --set fullnameOverride=openshell-driver \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml >"$work/chart-rbac.yaml"
cd "$repo"
OPENSHELL_TEST_RBAC_FILE="$work/chart-rbac.yaml" cargo test --locked --test cluster_kubernetes -- --ignored --test-threads=4 \
  create_renders stop_then_start delete_collects check_passes
OPENSHELL_TEST_RBAC_FILE="$work/chart-rbac.yaml" cargo test --locked --test cluster_workspace_volume -- --ignored --test-threads=3
OPENSHELL_TEST_RBAC_FILE="$work/chart-rbac.yaml" cargo test --locked --test cluster_warm_pool -- --ignored --test-threads=2
echo "chart: tier 3 passed with exactly the chart's RBAC"
"$helm" template openshell "$chart" --namespace openshell-system --set fullnameOverride=openshell-driver \
  --set openshift.enabled=true \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml >"$work/chart-rbac-openshift.yaml"
OPENSHELL_TEST_RBAC_FILE="$work/chart-rbac-openshift.yaml" cargo test --locked --test cluster_openshift -- --ignored --test-threads=4
echo "chart: the OpenShift tier 3 passed with exactly the chart's RBAC (openshift.enabled)"
"$helm" template openshell "$chart" --namespace openshell-system --set fullnameOverride=openshell-driver \
  --set workspaceMode=operator --set operatorNamespaceLabel=x=y \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml >"$work/chart-rbac-operator.yaml"
OPENSHELL_TEST_OPERATOR_RBAC_FILE="$work/chart-rbac-operator.yaml" cargo test --locked --test cluster_workspaces -- --ignored --test-threads=2 operator_
echo "chart: the operator-mode tier 3 passed with exactly the chart's RBAC (workspaceMode=operator)"
"$helm" template openshell "$chart" --namespace openshell-system --set fullnameOverride=openshell-driver \
  --set workspaceMode=managed --set driver.clientTlsSecret=openshell-client-tls --set 'driver.imagePullSecrets={openshell-image-pull}' \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml >"$work/chart-rbac-managed.yaml"
OPENSHELL_TEST_MANAGED_RBAC_FILE="$work/chart-rbac-managed.yaml" cargo test --locked --test cluster_copies -- --ignored
echo "chart: the managed-mode Secret copies passed with exactly the chart's RBAC (workspaceMode=managed)"
