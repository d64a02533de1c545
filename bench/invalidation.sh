#!/usr/bin/env bash
# Invalidation under load: L1 hit throughput of one hot URL through
# `cachegate serve`, with and without RATE tag invalidations per second of
# the same tenant arriving through the admin API (events of 100 new tags;
# none is the hot entry's, so it stays a hit, but its tenant's fast path is
# off and each hit checks its tags). Interleaved rounds, median. With
# VIA=nats (the default) the events are published on a standalone NATS
# server, as apps do, and NATS and the publisher run on wrk's CPU: the
# gateway's CPU pays only for what an instance does with invalidations
# (its coordinator and its L1). VIA=admin sends them through the gateway's
# admin API instead, whose HTTP and JSON then share the gateway's CPU.
# With COORD=elsewhere (VIA=nats only) the measured gateway is a
# gateway-only node (events.coordinator: false) and the coordinator runs
# in a second `cachegate serve` on wrk's CPU, as in a fleet whose control
# plane runs apart; COORD=here (the default) measures one process doing
# both.
# Usage: bench/invalidation.sh [DURATION] [CONNECTIONS] [RATE] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
RATE=${3:-10000}
ROUNDS=${4:-5}
. bench/lib.sh
build
go build -o "$work/invalidate" ./bench/invalidate
VIA=${VIA:-nats}
start_bare 2048 "${server_cpu[@]}"
if [ "$VIA" = nats ]; then
	go build -o "$work/nats-server" github.com/nats-io/nats-server/v2
	nport=$(free_port)
	"${client_cpu[@]}" "$work/nats-server" -a 127.0.0.1 -p "$nport" -js -sd "$work/nats" >"$work/nats.log" 2>&1 & pids+=($!)
	until grep -q 'Server is ready' "$work/nats.log"; do sleep 0.05; done
	natsurl="nats://127.0.0.1:$nport"
	gwcfg=""
	if [ "${COORD:-here}" = elsewhere ]; then
		CACHEGATE_ADMIN_TOKEN=bench-admin-token-0123456789 CACHEGATE_NATS_URL="$natsurl" "${client_cpu[@]}" "$work/cachegate" serve \
			--origin "http://$bare" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/coord.log" 2>&1 & pids+=($!)
		until grep -q 'gateway listening' "$work/coord.log"; do sleep 0.05; done
		printf 'events:\n  coordinator: false\n' >"$work/gateway-only.yaml"
		gwcfg="$work/gateway-only.yaml"
	fi
	start_gateway "$gwcfg" env CACHEGATE_NATS_URL="$natsurl" "${server_cpu[@]}"
	publish=(-nats "$natsurl")
else
	start_gateway "" "${server_cpu[@]}"
	publish=(-admin "$gwadmin")
fi
curl -fsS -o /dev/null "http://$gw/bench"
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status'
export CACHEGATE_ADMIN_TOKEN=bench-admin-token-0123456789
median() { sort -g "$1" | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# cpu_ticks: the gateway's user+system CPU so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gwpid/stat"; }
tck=$(getconf CLK_TCK)
# load FILE: one wrk run; appends its req/s to FILE and its hits per
# gateway CPU-second (the cost of a hit, whatever else shares the client's
# CPU) to FILE.cpu.
load() {
	local before after out
	before=$(cpu_ticks)
	out=$("${client_cpu[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" "http://$gw/bench")
	after=$(cpu_ticks)
	awk '/Requests\/sec/{print $2}' <<<"$out" >>"$1"
	awk -v t="$((after - before))" -v hz="$tck" '/requests in/{printf "%.0f\n", $1/(t/hz)}' <<<"$out" >>"$1.cpu"
}
machine
echo "events via ${VIA}, coordinator ${COORD:-here}"
for r in $(seq "$ROUNDS"); do
	load "$work/quiet"
	"${client_cpu[@]}" "$work/invalidate" "${publish[@]}" -tenant 127.0.0.1 -rate "$RATE" -duration "$((DURATION + 1))s" >"$work/inv.out" & inv=$!
	sleep 0.5
	load "$work/loaded"
	wait "$inv"
	awk '{print $2}' "$work/inv.out" >>"$work/rate"
	echo "round $r: without $(tail -1 "$work/quiet") req/s ($(tail -1 "$work/quiet.cpu") per gateway CPU-s)," \
		"with $(tail -1 "$work/loaded") req/s ($(tail -1 "$work/loaded.cpu") per gateway CPU-s) at $(tail -1 "$work/rate") tags/s"
done
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status'
awk -v q="$(median "$work/quiet")" -v l="$(median "$work/loaded")" -v t="$(median "$work/rate")" \
	'BEGIN{printf "median L1 hits: %.0f req/s without, %.0f req/s with %.0f tag invalidations/s: %.1f%% fewer\n", q, l, t, 100*(q-l)/q}'
awk -v q="$(median "$work/quiet.cpu")" -v l="$(median "$work/loaded.cpu")" \
	'BEGIN{printf "median hits per gateway CPU-second (invalidation work included): %.0f without, %.0f with: %.1f%% fewer\n", q, l, 100*(q-l)/q}'
