#!/usr/bin/env bash
# Stops kube-apiserver of a cluster from up.sh (by its recorded PID), waits DOWN_SECONDS,
# starts it again with the same flags, and waits until it is ready. For the watch-resume test.
set -euo pipefail
dir=${1:?cluster dir}; down=${2:-3}
pid=$(awk '$2=="kube-apiserver"{print $1}' "$dir/pids" | tail -n 1)
. "$dir/ports.env"
# Alive and not a zombie (an orphan may wait for a reaper that never comes).
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat")" != Z ]; }
port_free() { ! (echo >"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; }
kill -TERM "$pid"
# A terminating apiserver drains for a while; the port must be free before the restart.
for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
alive "$pid" && kill -KILL "$pid" 2>/dev/null
for _ in $(seq 1 100); do port_free && break; sleep 0.1; done
sleep "$down"
# shellcheck disable=SC2046
$(cat "$dir/apiserver.cmd") >>"$dir/logs/kube-apiserver.log" 2>&1 &
echo "$! kube-apiserver" >>"$dir/pids"
for _ in $(seq 1 120); do
  curl -fsS --max-time 2 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
    "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "kube-apiserver did not come back" >&2; exit 1
