#!/usr/bin/env bash
# Time to first byte of a miss: N distinct URLs of SIZE bytes (default 5
# MiB) fetched with curl from the bare server (the origin) and through
# `cachegate serve` in front of it (each a miss that is stored), in turns,
# one request at a time; prints the median and p90 of each and the
# difference of the medians. Usage: bench/ttfb.sh [N] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
SIZE=${2:-5242880}

. bench/lib.sh
build
start_bare "$SIZE" "${server_cpu[@]}"
start_gateway "" "${server_cpu[@]}"
machine

first_byte() { "${client_cpu[@]}" curl -fsS -o /dev/null -w '%{time_starttransfer}\n' "$1"; }
# One warm-up each: the connections' and the code's first use.
first_byte "http://$bare/warm" >/dev/null
first_byte "http://$gw/warm" >/dev/null
for i in $(seq 1 "$N"); do
	first_byte "http://$bare/o/$i" >>"$work/origin"
	first_byte "http://$gw/g/$i" >>"$work/gateway"
done
stats() { sort -n "$1" | awk '{v[NR]=$1} END{printf "%.3f %.3f", v[int((NR+1)/2)]*1000, v[int(NR*0.9+0.5)]*1000}'; }
read -r om op <<<"$(stats "$work/origin")"
read -r gm gp <<<"$(stats "$work/gateway")"
echo "first byte of a $SIZE-byte miss, $N URLs, ms: origin median $om p90 $op; gateway median $gm p90 $gp; median difference $(awk -v a="$gm" -v b="$om" 'BEGIN{printf "%.3f", a-b}')"
