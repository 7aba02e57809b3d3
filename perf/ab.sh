#!/usr/bin/env bash
# perf/ab.sh: two ringgate binaries side by side on one scenario, rounds
# interleaved (A B, A B, …) so that machine noise falls on both: the way a
# change's before and after are measured in the same run.
#
# Each binary serves with tuning/benchmarking.toml plus EXTRA_FLAGS, one core
# (`--cores 1`, CPU 0), a fresh data folder under target/perf-data, loopback
# only; the load generator (binary B's `bench`) is pinned to CPU 1 and reads
# each server's CPU time (`--server-pid`). Everything it starts it stops.
#
# Usage: perf/ab.sh BINARY_A BINARY_B [ROUNDS] [BENCH ARGUMENTS…]
#   default rounds 4, default bench arguments: put --size 64MiB --concurrency 1 --duration 6s
#   EXTRA_FLAGS (environment) adds serve flags to both, e.g. EXTRA_FLAGS="--etag fast"
#   EXTRA_FLAGS_B adds serve flags to B only: one binary against itself with a
#   setting changed, e.g. EXTRA_FLAGS_B="--log-filter info,ringgate::access=off"
#   BENCH_ARGS_B adds bench arguments to B's runs only: one server against
#   itself with the workload changed, e.g. BENCH_ARGS_B="--versions 100"
# Each server's stdout and stderr (its log, access log included) go to a file.
# Prints one line per run: label, round, MB/s, ops/s, server CPU s/GB, the server's
# minor page faults over the run (preparation and cleanup included), errors.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${3:-4}
shift $(($# < 3 ? $# : 3))
if [ $# -eq 0 ]; then
    set -- put --size 64MiB --concurrency 1 --duration 6s
fi
DATA=$ROOT/target/perf-data/ab-$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$DATA"

STARTED=()
stop_all() {
    local pid
    for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$DATA"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

declare -A PID ENDPOINT
start() { # label binary [serve flags…]
    local dir=$DATA/$1 label=$1 binary=$2
    shift 2
    mkdir -p "$dir"
    # shellcheck disable=SC2086 # EXTRA_FLAGS holds several words on purpose
    "$binary" serve --config tuning/benchmarking.toml --listen 127.0.0.1:0 --cores 1 \
        --data "$dir/data" --shutdown-grace-secs 2 ${EXTRA_FLAGS:-} "$@" >"$dir/log" 2>&1 &
    PID[$label]=$!
    STARTED+=("$!")
    for _ in $(seq 300); do
        grep -q "listening on" "$dir/log" 2>/dev/null && break
        sleep 0.1
    done
    ENDPOINT[$label]=$(grep -o 'listening on http://[0-9.:]*' "$dir/log" | head -1 | sed 's/listening on //')
}

bench() { # label, then bench arguments
    local label=$1
    shift
    timeout --signal=INT --kill-after=30 600 "$B" bench --endpoint "${ENDPOINT[$label]}" \
        --profile ringgate --credentials-file "$DATA/$label/data/credentials" \
        --cpus 1 --quiet --server-pid "${PID[$label]}" "$@"
}

# Minor page faults of a process so far (field 10 of /proc/PID/stat).
minor_faults() {
    python3 -c 'import sys; print(open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()[7])' "$1"
}

start a "$A"
# shellcheck disable=SC2086 # EXTRA_FLAGS_B holds several words on purpose
start b "$B" ${EXTRA_FLAGS_B:-}
for label in a b; do
    for _ in $(seq 30); do
        bench "$label" put --size 1KiB --ops 20 --concurrency 2 >/dev/null 2>&1 && break
        sleep 1
    done
done

echo "A=$A"
echo "B=$B"
echo "bench: $*  serve extra: ${EXTRA_FLAGS:-none}  B only: ${EXTRA_FLAGS_B:-none}  bench B only: ${BENCH_ARGS_B:-none}"
for round in $(seq "$ROUNDS"); do
    for label in a b; do
        faults_before=$(minor_faults "${PID[$label]}")
        extra=()
        if [ "$label" = b ]; then
            # shellcheck disable=SC2206 # BENCH_ARGS_B holds several words on purpose
            extra=(${BENCH_ARGS_B:-})
        fi
        bench "$label" "$@" "${extra[@]}" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
mb_s, ops_s = s["throughput"]["mb_s"], s["ops_per_s"]
srv, errors = s["server"]["s_per_gb"], s["errors"]["total"]
faults = int(open("/proc/%s/stat" % sys.argv[3]).read().rsplit(")", 1)[1].split()[7]) - int(sys.argv[4])
print("%s r%s MB/s %.1f ops/s %.0f srv_s_per_GB %.3f minor_faults %d errors %d"
      % (sys.argv[1], sys.argv[2], mb_s, ops_s, srv, faults, errors))
' "$label" "$round" "${PID[$label]}" "$faults_before"
    done
done
