#!/usr/bin/env bash
# L2 hits against the physical limit of that layer: the gateway with an L1
# too small to hold a page (every hit is an L2 hit: one script call to
# Redis), loaded by wrk, next to redis-benchmark GETs of values of the same
# size on the same redis-server, with the same number of connections.
# Interleaved rounds, median. Usage: bench/l2.sh [DURATION] [CONNECTIONS] [SIZE] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
SIZE=${3:-2048}
ROUNDS=${4:-3}
. bench/lib.sh
build
command -v redis-server >/dev/null || { echo "install redis-server (Debian package redis-server)"; exit 1; }
rport=$(free_port)
"${server_cpu[@]}" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 & pids+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
start_bare "$SIZE" "${server_cpu[@]}"
printf 'l1: { max_bytes: 1 }\n' >"$work/l2.yaml"
GW_FLAGS="--redis redis://127.0.0.1:$rport/0" start_gateway "$work/l2.yaml" "${server_cpu[@]}"
curl -fsS -o /dev/null "http://$gw/bench"
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status'
median() { sort -g "$1" | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
machine
for r in $(seq "$ROUNDS"); do
	"${client_cpu[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" "http://$gw/bench" | awk '/Requests\/sec/{print $2}' >>"$work/gw"
	n=$(awk -v r="$(tail -1 "$work/gw")" -v d="$DURATION" 'BEGIN{printf "%d", r*d*2}')
	"${client_cpu[@]}" redis-benchmark -p "$rport" -t get -d "$SIZE" -c "$CONNECTIONS" -n "$((n > 10000 ? n : 10000))" -q --csv |
		awk -F'","' '/GET/{gsub(/"/, "", $2); print $2}' >>"$work/redis"
	echo "round $r: gateway L2 hits $(tail -1 "$work/gw") req/s, redis-benchmark GET $(tail -1 "$work/redis") req/s"
done
awk -v g="$(median "$work/gw")" -v r="$(median "$work/redis")" \
	'BEGIN{printf "median: gateway L2 hits %.0f req/s, redis GET %.0f req/s: %.2f of the layer'"'"'s limit\n", g, r, g/r}'
