#!/usr/bin/env bash
# A local Redis Cluster for tests and benchmarks: 3 masters on 127.0.0.1:7001-7003, no
# replicas, data under .tmp/redis-cluster/ (gitignored). Idempotent: `start` on a running
# cluster does nothing, `stop` on a stopped one does nothing.
#
#   scripts/redis-cluster.sh start|stop|status
#
# Then: REDIS_CLUSTER_URL=redis://127.0.0.1:7001 npx vitest run test/conformance/redis-cluster.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."

PORTS=(7001 7002 7003)
DIR="$PWD/.tmp/redis-cluster"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"

running() { redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; }

start() {
  mkdir -p "$DIR"
  for port in "${PORTS[@]}"; do
    running "$port" && continue
    mkdir -p "$DIR/$port"
    # appendfsync everysec + noeviction: the settings docs/redis.md asks for.
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --daemonize yes \
      --dir "$DIR/$port" --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --save ""
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do running "$port" && break; sleep 0.1; done
  done
  if [ "$(redis-cli -p "${PORTS[0]}" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')" != "ok" ]; then
    local known
    known="$(redis-cli -p "${PORTS[0]}" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')"
    if [ "$known" = "1" ]; then
      redis-cli --cluster create $(printf '127.0.0.1:%s ' "${PORTS[@]}") --cluster-replicas 0 --cluster-yes >/dev/null
    fi
    for _ in $(seq 1 100); do
      [ "$(redis-cli -p "${PORTS[0]}" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')" = "ok" ] && break
      sleep 0.1
    done
  fi
  status
}

stop() {
  for port in "${PORTS[@]}"; do
    if running "$port"; then redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; fi
  done
}

status() {
  local state
  state="$(redis-cli -p "${PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')"
  echo "redis cluster on 127.0.0.1:${PORTS[0]}-${PORTS[-1]}: ${state:-down}"
  [ "$state" = "ok" ]
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
