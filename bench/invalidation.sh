#!/usr/bin/env bash
# Invalidation under load: L1 hit throughput of one hot URL through
# `cachegate serve`, with and without RATE tag invalidations per second of
# the same tenant arriving through the admin API (events of 100 new tags;
# none is the hot entry's, so it stays a hit, but its tenant's fast path is
# off and each hit checks its tags). Interleaved rounds, median; the
# publisher runs on wrk's CPU. Usage: bench/invalidation.sh [DURATION] [CONNECTIONS] [RATE] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
RATE=${3:-10000}
ROUNDS=${4:-5}
. bench/lib.sh
build
go build -o "$work/invalidate" ./bench/invalidate
start_bare 2048 "${server_cpu[@]}"
start_gateway "" "${server_cpu[@]}"
curl -fsS -o /dev/null "http://$gw/bench"
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status'
export CACHEGATE_ADMIN_TOKEN=bench-admin-token-0123456789
median() { sort -g "$1" | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
machine
for r in $(seq "$ROUNDS"); do
	"${client_cpu[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" "http://$gw/bench" | awk '/Requests\/sec/{print $2}' >>"$work/quiet"
	"${client_cpu[@]}" "$work/invalidate" -admin "$gwadmin" -tenant 127.0.0.1 -rate "$RATE" -duration "$((DURATION + 1))s" >"$work/inv.out" & inv=$!
	sleep 0.5
	"${client_cpu[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" "http://$gw/bench" | awk '/Requests\/sec/{print $2}' >>"$work/loaded"
	wait "$inv"
	awk '{print $2}' "$work/inv.out" >>"$work/rate"
	echo "round $r: without $(tail -1 "$work/quiet") req/s, with $(tail -1 "$work/loaded") req/s at $(tail -1 "$work/rate") tags/s"
done
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status'
awk -v q="$(median "$work/quiet")" -v l="$(median "$work/loaded")" -v t="$(median "$work/rate")" \
	'BEGIN{printf "median L1 hits: %.0f req/s without, %.0f req/s with %.0f tag invalidations/s: %.1f%% fewer\n", q, l, t, 100*(q-l)/q}'
