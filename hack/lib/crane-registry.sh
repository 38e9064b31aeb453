# A throwaway registry (`crane registry serve`) on a free loopback port: crane's append, mutate
# and index commands work against a registry. Used by tier 4's image.sh and by make image.
# shellcheck shell=bash
#   crane_registry_start CRANE DIR   sets CRANE_REGISTRY (127.0.0.1:PORT) and CRANE_REGISTRY_PID
#   crane_registry_stop              stops it (call it from the EXIT trap)
CRANE_REGISTRY="" CRANE_REGISTRY_PID=""
crane_registry_start() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  CRANE_REGISTRY=127.0.0.1:$port
  "$1" registry serve --address "$CRANE_REGISTRY" >"$2/registry.log" 2>&1 &
  CRANE_REGISTRY_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://$CRANE_REGISTRY/v2/" 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$2/registry.log" >&2
  return 1
}
crane_registry_stop() {
  [ -n "$CRANE_REGISTRY_PID" ] || return 0
  kill "$CRANE_REGISTRY_PID" 2>/dev/null || true
  wait "$CRANE_REGISTRY_PID" 2>/dev/null || true
  CRANE_REGISTRY_PID=""
}
