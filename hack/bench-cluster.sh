#!/usr/bin/env bash
# make bench-cluster: the driver at BENCH_N sandboxes (default 1000) on the local cluster,
# measured through its socket (benches/cluster). Prints a table and writes
# target/bench-cluster-N.json. With KUBECONFIG and CLUSTER_DIR set, uses that cluster (from
# hack/cluster/up.sh: the benchmark restarts its API server); otherwise starts one whose
# kwok node holds 2N + 500 pods (the driver's N and the N raw comparison creates) and stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/cluster/versions.env"
n=${BENCH_N:-1000}
bin=$("$here/cluster/build.sh")
export KUBECTL="$bin/kubectl-$KUBE_VERSION"
if [ -z "${KUBECONFIG:-}" ]; then
  export CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/openshell-bench.XXXXXX")
  trap '"$here/cluster/down.sh" "$CLUSTER_DIR" >/dev/null' EXIT
  # The scheduler and the garbage collector at their default client QPS would take longer
  # than the benchmark to place and remove 2N pods.
  eval "$(CLUSTER_NODE_PODS=$(( 2 * n + 500 )) CLUSTER_CLIENT_QPS=${CLUSTER_CLIENT_QPS:-400} "$here/cluster/up.sh" "$CLUSTER_DIR")"
elif [ -z "${CLUSTER_DIR:-}" ]; then
  echo "bench-cluster: KUBECONFIG is set but CLUSTER_DIR is not; the relist figure restarts the API server of a cluster from hack/cluster/up.sh" >&2
  exit 2
fi
cd "$repo"
BENCH_N=$n cargo bench --locked --bench cluster
