#!/usr/bin/env bash
# Tier 4: real containers. Brings up the real node beside the local control plane (hack/e2e/up.sh),
# unless E2E_DIR names a running tier, runs tests/e2e.rs inside the tier's network namespace with
# the real OpenShell gateway, CLI and supervisor from OPENSHELL_BIN_DIR, and tears down by
# recorded PID whatever the outcome. Without the OpenShell binaries it says so and skips.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=e2e/lib.sh
. "$here/e2e/lib.sh"
osh=$(openshell_bin_dir)
for b in openshell-gateway openshell openshell-sandbox; do
  if [ ! -x "$osh/$b" ]; then
    echo "tier 4: SKIPPED: $(openshell_missing_hint "$osh")" >&2
    exit 0
  fi
done
cd "$repo"
# No network inside the tier: build the tests first.
cargo test --locked --test e2e --no-run
# E2E_CHART=1: also the chart installed for real (hack/e2e/chart.sh), which needs the driver's
# image, a rebuild of it (another digest) for its upgrade, and a tier whose pods reach the API
# server and Services (kube-proxy).
if [ "${E2E_CHART:-}" = 1 ]; then
  IMAGE_PLATFORMS=linux/amd64 "$here/image/build.sh" >/dev/null
  SOURCE_DATE_EPOCH=$(( $(git log -1 --format=%ct) + 1 )) IMAGE_PLATFORMS=linux/amd64 \
    IMAGE_OUT="$repo/target/image-rebuilt" "$here/image/build.sh" >/dev/null
  export E2E_PODS_REACH_API=1 CLUSTER_WITH_KUBE_PROXY=1
fi
# One tier: up (unless E2E_DIR names a running one), the tests, down. $1: 1 for an OpenShift
# tier (E2E_OPENSHIFT=1 hack/e2e/up.sh), then the test arguments.
tier() {
  local openshift=$1 t0 label=""
  shift
  [ "$openshift" = 0 ] || label=" (OpenShift)"
  t0=$(date +%s)
  if [ -z "${given_dir:-}" ]; then
    E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/openshell-e2e.XXXXXX")
    export E2E_DIR
    trap 'echo "tier 4: logs kept in $E2E_DIR/logs"; E2E_KEEP_LOGS=1 "$here/e2e/down.sh" "$E2E_DIR" >/dev/null 2>&1 || true' EXIT
    E2E_OPENSHIFT=$openshift "$here/e2e/up.sh" "$E2E_DIR"
    echo "tier 4$label: node and control plane up in $(( $(date +%s) - t0 ))s"
  fi
  "$here/e2e/run.sh" kubectl cordon node-plain node-gpu >/dev/null
  "$here/e2e/run.sh" kubectl taint nodes node-real openshell.test/node- >/dev/null 2>&1 || true
  t0=$(date +%s)
  "$here/e2e/run.sh" cargo test --locked --offline --test e2e -- --ignored --test-threads=1 "$@"
  echo "tier 4$label: ran in $(( $(date +%s) - t0 ))s"
  if [ "${E2E_CHART:-}" = 1 ]; then
    t0=$(date +%s)
    "$here/e2e/run.sh" "$here/e2e/chart.sh"
    echo "tier 4 chart: ran in $(( $(date +%s) - t0 ))s"
  fi
  if [ -z "${given_dir:-}" ]; then
    E2E_KEEP_LOGS=1 "$here/e2e/down.sh" "$E2E_DIR" >/dev/null
    trap - EXIT
  fi
}

# E2E_TEST_ARGS: what to run on the plain tier (default: every test but the benchmarks, which
# make bench-e2e runs, and the OpenShift ones). E2E_OPENSHIFT: 1 only the OpenShift tier, 0 only
# the plain one; unset, both in turn when E2E_TEST_ARGS is unset.
given_dir=${E2E_DIR:-}
if [ -n "$given_dir" ]; then
  openshift=$(sed -n 's/^E2E_OPENSHIFT=//p' "$given_dir/e2e.env" 2>/dev/null)
  if [ "${openshift:-0}" = 1 ]; then tier 1 openshift::; else
    # shellcheck disable=SC2086
    tier 0 ${E2E_TEST_ARGS:---skip bench_ --skip openshift::}
  fi
  exit 0
fi
if [ "${E2E_OPENSHIFT:-}" != 1 ]; then
  # shellcheck disable=SC2086
  tier 0 ${E2E_TEST_ARGS:---skip bench_ --skip openshift::}
fi
if [ "${E2E_OPENSHIFT:-}" = 1 ] || { [ -z "${E2E_OPENSHIFT:-}" ] && [ -z "${E2E_TEST_ARGS:-}" ]; }; then
  # shellcheck disable=SC2086
  tier 1 ${E2E_TEST_ARGS:-openshift::}
fi
