#!/usr/bin/env bash
# Runs CMD inside the tier-4 network namespace with DIR/e2e.env exported and DIR/bin (kubectl,
# ctr, crictl, crane) first on PATH. The API server, the kubelet, the CRI streaming server and
# the bridge address are reachable only from in there.
#
#   hack/e2e/run.sh kubectl get nodes
#   hack/e2e/run.sh cargo test --test e2e        (cargo fetch/build first: no network inside)
#   hack/e2e/run.sh                              an interactive shell
# The tier is $E2E_DIR, default .e2e/ in the repository.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_LOG_NAME=e2e-run
dir=$(e2e_dir "")
[ -f "$dir/e2e.env" ] || die "no tier in $dir (start one with hack/e2e/up.sh, or set E2E_DIR)"
set -a
# shellcheck source=/dev/null
. "$dir/e2e.env"
set +a
export PATH="$E2E_BIN_DIR:$PATH"
[ $# -gt 0 ] || set -- "${SHELL:-bash}"
if [ "$(ns_of self net)" = "net:[$(stat -L -c %i "$NETNS")]" ]; then exec "$@"; fi
exec nsenter --net="$NETNS" -- "$@"
