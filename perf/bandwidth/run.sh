#!/usr/bin/env bash
# The headline: a client whose uplink is the bottleneck. The client lives in a
# network namespace behind a veth pair shaped with tc's token bucket (tbf) to
# RATE each way; the gateway and the storage nodes live in the root namespace
# on the other end of that link (10.77.0.1), so the gateway's traffic to the
# nodes stays local and unshaped. Two uploads of the same objects:
#
#   (a) through ringgate: `ringgate bench put` in the client namespace; each
#       object byte crosses the link once, the gateway fans out n/k of it;
#   (b) the client erasure codes for itself: perf/bandwidth/uplink.rs runs the
#       same pipeline in the client namespace and sends every piece across the
#       link to the nodes.
#
# Prints both throughputs and their ratio, which approaches what (b) sends per
# object byte (n/k, less what the long tail cuts off). Needs root (ip netns,
# tc). Every address belongs to the namespace pair this script creates; the
# namespace (and with it the veth pair) and every process it started are
# removed on exit.
#
#   perf/bandwidth/run.sh [--rate 200mbit] [--erasure 4/6/8] [--nodes 10]
#                         [--size 64MiB] [--duration 20]
set -euo pipefail
cd "$(dirname "$0")/../.."

RATE=200mbit ERASURE=4/6/8 NODES=10 SIZE=64MiB DURATION=20
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) RATE=$2; shift 2 ;;
        --erasure) ERASURE=$2; shift 2 ;;
        --nodes) NODES=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

NS=rg-bw-client-$$
HOST_IF=rgbwh$$ CLIENT_IF=rgbwc$$
HOST_IP=10.77.0.1 CLIENT_IP=10.77.0.2
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    ip link del "$HOST_IF" 2>/dev/null || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

cargo build --release --quiet --bin ringgate --example uplink
BIN=target/release/ringgate
UPLINK=target/release/examples/uplink

size_bytes() {
    python3 -c "
import re,sys
m=re.fullmatch(r'(\d+)(KiB|MiB|GiB)?', sys.argv[1])
print(int(m.group(1)) * {None:1,'KiB':1<<10,'MiB':1<<20,'GiB':1<<30}[m.group(2)])" "$1"
}

echo "== link: $RATE each way between namespace $NS ($CLIENT_IP) and the host ($HOST_IP)"
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$CLIENT_IF"
ip link set "$CLIENT_IF" netns "$NS"
ip addr add "$HOST_IP/24" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add "$CLIENT_IP/24" dev "$CLIENT_IF"
ip netns exec "$NS" ip link set "$CLIENT_IF" up
ip netns exec "$NS" ip link set lo up
# Token bucket both ways: the client's uplink and its downlink.
ip netns exec "$NS" tc qdisc add dev "$CLIENT_IF" root tbf rate "$RATE" burst 256kb latency 50ms
tc qdisc add dev "$HOST_IF" root tbf rate "$RATE" burst 256kb latency 50ms

echo "== $NODES storage nodes and a gateway on $HOST_IP (erasure $ERASURE)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/cluster.key"
NODE_ARGS=() UPLINK_NODES=()
for i in $(seq 0 $((NODES - 1))); do
    port=$((17100 + i))
    mkdir -p "$WORK/node$i"
    "$BIN" node-key "$HOST_IP:$port" --cluster-key "$WORK/cluster.key" --out "$WORK/node$i/node.key"
    "$BIN" node --listen "$HOST_IP:$port" --data "$WORK/node$i" --cores 1 \
        >"$WORK/node$i.log" 2>&1 &
    PIDS+=($!)
    NODE_ARGS+=(--node "$HOST_IP:$port")
    UPLINK_NODES+=(--node "$HOST_IP:$port")
done
"$BIN" serve --listen "$HOST_IP:17000" --data "$WORK/gateway" --cores 1 \
    --erasure "$ERASURE" --cluster-key "$WORK/cluster.key" "${NODE_ARGS[@]}" \
    >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    grep -q "listening on" "$WORK/gateway.log" && break
    sleep 0.2
done
grep -q "listening on" "$WORK/gateway.log" || { cat "$WORK/gateway.log"; exit 1; }

echo "== (a) through ringgate: ringgate bench put --size $SIZE for ${DURATION}s"
ip netns exec "$NS" "$BIN" bench --endpoint "http://$HOST_IP:17000" \
    --profile ringgate --credentials-file "$WORK/gateway/credentials" \
    put --size "$SIZE" --concurrency 1 --duration "${DURATION}s" --json --quiet \
    >"$WORK/gateway.json"
GATEWAY_MB_S=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['throughput']['mb_s'])" "$WORK/gateway.json")
echo "   $GATEWAY_MB_S MB/s of object data"

echo "== (b) the client erasure codes for itself, same link, same code"
ip netns exec "$NS" "$UPLINK" --cluster-key "$WORK/cluster.key" --erasure "$ERASURE" \
    --size "$(size_bytes "$SIZE")" --duration-secs "$DURATION" "${UPLINK_NODES[@]}" \
    >"$WORK/uplink.json"
UPLINK_MB_S=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mb_s'])" "$WORK/uplink.json")
echo "   $UPLINK_MB_S MB/s of object data"

python3 - "$GATEWAY_MB_S" "$UPLINK_MB_S" "$ERASURE" "$RATE" <<'EOF'
import sys
gateway, uplink, erasure, rate = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
k, o, n = (int(x) for x in erasure.split("/"))
print(f"== link {rate}, erasure {erasure}: through ringgate {gateway:.1f} MB/s, "
      f"client-side coding {uplink:.1f} MB/s, ratio {gateway / uplink:.2f}x "
      f"(o/k = {o / k:.2f}, n/k = {n / k:.2f})")
EOF
