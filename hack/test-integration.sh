#!/usr/bin/env bash
# Tier 3. With KUBECONFIG set, runs against that cluster; otherwise starts the local cluster
# (hack/cluster/up.sh) for this run and stops it afterwards, whatever the outcome.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/cluster/versions.env"
bin=$("$here/cluster/build.sh")
export KUBECTL="$bin/kubectl-$KUBE_VERSION"
export AGENT_SANDBOX_CRDS="$(cat "$(dirname "$bin")/agent-sandbox-crds-$AGENT_SANDBOX_VERSION.path")/agents.x-k8s.io_sandboxes.yaml"
OPENSHIFT_CRDS=$(paste -sd: "$(dirname "$bin")/openshift-crds.list")
export OPENSHIFT_CRDS

KUBECONFIG_GIVEN=${KUBECONFIG:-}
if [ -z "$KUBECONFIG_GIVEN" ]; then
  export CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/openshell-cluster.XXXXXX")
  trap '"$here/cluster/down.sh" "$CLUSTER_DIR" >/dev/null' EXIT
  t0=$(date +%s)
  eval "$("$here/cluster/up.sh" "$CLUSTER_DIR")"
  echo "tier 3: local cluster started in $(( $(date +%s) - t0 ))s"
else
  echo "tier 3: using KUBECONFIG=$KUBECONFIG"
  if [ -z "${CLUSTER_DIR:-}" ]; then
    echo "tier 3: CLUSTER_DIR unset; the API-server-restart and CRD-removal tests need a cluster from hack/cluster/up.sh" >&2
  fi
fi
cd "$repo"
t0=$(date +%s)
cargo test --locked --test cluster_kubernetes -- --ignored --test-threads=4
cargo test --locked --test cluster_operations -- --ignored --test-threads=4
cargo test --locked --test cluster_workspaces -- --ignored --test-threads=4
cargo test --locked --test cluster_copies -- --ignored --test-threads=4
cargo test --locked --test cluster_supervisor -- --ignored --test-threads=4
cargo test --locked --test cluster_sideload -- --ignored --test-threads=4
cargo test --locked --test cluster_expiry -- --ignored --test-threads=4
cargo test --locked --test cluster_pod_settings -- --ignored --test-threads=4
cargo test --locked --test cluster_topology -- --ignored --test-threads=2
cargo test --locked --test cluster_volumes -- --ignored --test-threads=4
cargo test --locked --test cluster_workspace_volume -- --ignored --test-threads=3
cargo test --locked --test cluster_warm_pool -- --ignored --test-threads=3
cargo test --locked --test cluster_pod_failures -- --ignored --test-threads=4
cargo test --locked --test cluster_openshift -- --ignored --test-threads=4
if [ -n "${CLUSTER_DIR:-}" ]; then
  cargo test --locked --test cluster_disruptive -- --ignored --test-threads=1
else
  echo "tier 3: SKIPPED the disruptive tests (restart, CRD removal): they only run on the project's own local cluster" >&2
fi
echo "tier 3: ran in $(( $(date +%s) - t0 ))s"
t0=$(date +%s)
"$here/test-chart.sh"
echo "chart tests: ran in $(( $(date +%s) - t0 ))s"

# Tier 3 under OpenShift's own admission code (SCC, Route), on a cluster started with --openshift.
t0=$(date +%s)
# The webhook's own tests first: its wiring of the upstream plugins, on the default SCCs as data.
(cd "$here/openshift-admission" && CGO_ENABLED=0 GOTOOLCHAIN=local go test -trimpath ./...)
if [ -z "$KUBECONFIG_GIVEN" ]; then
  (
    export CLUSTER_DIR
    CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/openshell-cluster-ocp.XXXXXX")
    trap '"$here/cluster/down.sh" "$CLUSTER_DIR" >/dev/null' EXIT
    eval "$("$here/cluster/up.sh" --openshift "$CLUSTER_DIR")"
    echo "tier 3 (OpenShift admission): cluster started in $(( $(date +%s) - t0 ))s"
    cargo test --locked --test cluster_openshift_admission -- --ignored --test-threads=2
  )
elif [ -f "${CLUSTER_DIR:-/nonexistent}/openshift" ]; then
  cargo test --locked --test cluster_openshift_admission -- --ignored --test-threads=2
else
  echo "tier 3: SKIPPED the OpenShift admission tests: KUBECONFIG is not a cluster from hack/cluster/up.sh --openshift" >&2
fi
echo "tier 3 (OpenShift admission): ran in $(( $(date +%s) - t0 ))s"
