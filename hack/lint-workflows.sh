#!/usr/bin/env bash
# make lint: the GitHub Actions workflows checked by actionlint (built from its Go module by
# hack/cluster/build.sh, cached like the cluster binaries). The workflows cannot run here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cluster/versions.env
. "$repo/hack/cluster/versions.env"
bin=$("$repo/hack/cluster/build.sh" actionlint)
cd "$repo"
"$bin/actionlint-$ACTIONLINT_VERSION" -no-color .github/workflows/*.yml
echo "actionlint: $(ls .github/workflows/*.yml | wc -l) workflows clean"
