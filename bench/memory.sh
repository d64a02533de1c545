#!/usr/bin/env bash
# Memory script: resident memory of `cachegate serve` (L1 only, as a user
# starts it) idle, after storing N distinct responses of SIZE bytes, and
# while STREAM distinct URLs stream through an L1 bounded at BUDGET (peak
# RSS sampled every 100 ms). Usage: bench/memory.sh [N] [SIZE] [STREAM] [BUDGET]
# Environment passed to serve (GOMEMLIMIT, GOGC) applies to every run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SIZE=${2:-2048}
STREAM=${3:-100000}
BUDGET=${4:-32MiB}

. bench/lib.sh
build
start_bare "$SIZE"

machine
echo "env: GOMEMLIMIT=${GOMEMLIMIT:-unset} GOGC=${GOGC:-unset}"

start_gateway ""
curl -fsS -o /dev/null "http://$gw/warm"
idle=$(rss_tree "$gwpid")
filled=$("$work/fill" -url "http://$gw" -n "$N" -pid "$gwpid" | awk '/rss_kib/{print $2}')
hits=$("$work/fill" -url "http://$gw" -n "$N" -pid "$gwpid" | awk '/rss_kib/{print $2}')
payload=$((N * SIZE / 1024))
echo "default L1: idle $(mib "$idle"); after $N x $SIZE B stored $(mib "$filled") (payload $(mib "$payload")); after reading them all again $(mib "$hits")"
kill "$gwpid"; wait "$gwpid" 2>/dev/null || true

printf 'l1:\n  max_bytes: %s\n' "$BUDGET" >"$work/budget.yaml"
start_gateway "$work/budget.yaml"
curl -fsS -o /dev/null "http://$gw/warm"
idle=$(rss_tree "$gwpid")
peak=$idle
"$work/fill" -url "http://$gw" -n "$STREAM" >"$work/stream.out" & fillpid=$!
while kill -0 "$fillpid" 2>/dev/null; do
	r=$(rss_tree "$gwpid"); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1
done
wait "$fillpid"
end=$(rss_tree "$gwpid")
echo "L1 budget $BUDGET: idle $(mib "$idle"); $STREAM distinct URLs streamed through: peak $(mib "$peak"), at the end $(mib "$end")"
