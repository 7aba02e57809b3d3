#!/usr/bin/env bash
# PUT and GET throughput of a gateway over a loopback cluster of storage nodes:
# NODES `ringgate node` processes and one gateway on 127.0.0.1, then
# `ringgate bench put` and `get` of SIZE objects at CONCURRENCY. Prints both
# summaries and a one-line result; everything it starts it stops.
#
#   perf/cluster/run.sh [--nodes 10] [--erasure 4/6/8] [--size 64MiB]
#                       [--concurrency 4] [--duration 20] [--cores 1]
set -euo pipefail
cd "$(dirname "$0")/../.."

NODES=10 ERASURE=4/6/8 SIZE=64MiB CONCURRENCY=4 DURATION=20 CORES=1
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) NODES=$2; shift 2 ;;
        --erasure) ERASURE=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --concurrency) CONCURRENCY=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --cores) CORES=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

cargo build --release --quiet --bin ringgate
BIN=target/release/ringgate
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/cluster.key"
NODE_ARGS=()
for i in $(seq 0 $((NODES - 1))); do
    port=$((17300 + i))
    mkdir -p "$WORK/node$i"
    "$BIN" node-key "127.0.0.1:$port" --cluster-key "$WORK/cluster.key" --out "$WORK/node$i/node.key"
    "$BIN" node --listen "127.0.0.1:$port" --data "$WORK/node$i" --cores 1 \
        >"$WORK/node$i.log" 2>&1 &
    PIDS+=($!)
    NODE_ARGS+=(--node "127.0.0.1:$port")
done
"$BIN" serve --listen 127.0.0.1:17299 --data "$WORK/gateway" --cores "$CORES" \
    --erasure "$ERASURE" --cluster-key "$WORK/cluster.key" "${NODE_ARGS[@]}" \
    >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    grep -q "listening on" "$WORK/gateway.log" && break
    sleep 0.2
done
grep -q "listening on" "$WORK/gateway.log" || { cat "$WORK/gateway.log"; exit 1; }

bench() {
    "$BIN" bench --endpoint http://127.0.0.1:17299 --profile ringgate \
        --credentials-file "$WORK/gateway/credentials" "$@"
}
echo "== PUT $SIZE, concurrency $CONCURRENCY, ${DURATION}s: gateway ($CORES cores) over $NODES nodes, erasure $ERASURE"
bench put --size "$SIZE" --concurrency "$CONCURRENCY" --duration "${DURATION}s" --quiet \
    --json >"$WORK/put.json"
echo "== GET $SIZE, concurrency $CONCURRENCY, ${DURATION}s (every byte checked)"
bench get --size "$SIZE" --concurrency "$CONCURRENCY" --objects "$((CONCURRENCY * 2))" \
    --duration "${DURATION}s" --quiet --json >"$WORK/get.json"
python3 - "$WORK/put.json" "$WORK/get.json" <<'PY'
import json, sys
for name, path in (("PUT", sys.argv[1]), ("GET", sys.argv[2])):
    s = json.load(open(path))
    lat = s["latency_ms"]
    print(f"{name}: {s['throughput']['mb_s']:.0f} MB/s, {s['ops_per_s']:.1f} ops/s, "
          f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms, errors {s['errors']['total']}")
PY
