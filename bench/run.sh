#!/usr/bin/env bash
# Load script: in one run on this machine, measures requests/s and p50/p99
# latency of (a) a bare Go server answering the same bytes from memory and
# (b) the gateway answering them from L1, with wrk on loopback, and prints
# the ratio. Load is bounded: DURATION seconds per target, CONNECTIONS
# connections. Usage: bench/run.sh [DURATION] [CONNECTIONS] [SIZE]
#
# With PIN=1 (the default where taskset exists) the servers run on CPU 0
# and wrk on CPU 1, so that the load generator does not compete with the
# server it measures; PIN=0 lets them share both cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
SIZE=${3:-2048}
PIN=${PIN:-1}
server_cpu=(); client_cpu=(); threads=2
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	server_cpu=(env GOMAXPROCS=1 taskset -c 0); client_cpu=(taskset -c 1); threads=1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v wrk >/dev/null; then
	$SUDO apt-get update -q && $SUDO apt-get install -y -q wrk
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/cachegate" ./cmd/cachegate
go build -o "$work/bare" ./bench/bare

"${server_cpu[@]}" "$work/bare" -size "$SIZE" >"$work/bare.log" 2>&1 & pids+=($!)
until grep -q listening "$work/bare.log"; do sleep 0.05; done
bare=$(awk '/listening/{print $4}' "$work/bare.log")

CACHEGATE_ADMIN_TOKEN=bench-admin-token-0123456789 "${server_cpu[@]}" "$work/cachegate" serve --origin "http://$bare" \
	--listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/gw.log" 2>&1 & pids+=($!)
until grep -q 'gateway listening' "$work/gw.log"; do
	kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/gw.log"; exit 1; }
	sleep 0.05
done
gw=$(grep -o 'gateway listening on [^ ]*' "$work/gw.log" | awk '{print $4}')

curl -fsS -o /dev/null "http://$gw/bench"
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status' || true

measure() { # name url
	"${client_cpu[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2" >"$work/$1.wrk"
	rps=$(awk '/Requests\/sec/{print $2}' "$work/$1.wrk")
	p50=$(awk '$1=="50%"{print $2}' "$work/$1.wrk")
	p99=$(awk '$1=="99%"{print $2}' "$work/$1.wrk")
	printf '%-8s %12s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
	eval "${1}_rps=$rps"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load: wrk -t$threads -c$CONNECTIONS -d${DURATION}s, $SIZE-byte body, servers ${server_cpu[*]:-unpinned}, wrk ${client_cpu[*]:-unpinned}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
measure bare "http://$bare/bench"
measure gateway "http://$gw/bench"
awk -v g="$gateway_rps" -v b="$bare_rps" 'BEGIN{printf "ratio gateway/bare: %.2f\n", g/b}'
