#!/usr/bin/env bash
# Stops a cluster started by up.sh: only the processes it recorded, by PID, then removes its
# directory.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${1:-$repo/.cluster}
[ -f "$dir/pids" ] || { echo "no cluster recorded in $dir"; exit 0; }
# Reverse start order: the controller first, etcd last.
tac "$dir/pids" | while read -r pid name; do
  kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null && echo "killed $name ($pid)" || echo "stopped $name ($pid)"
done
rm -rf "$dir"
