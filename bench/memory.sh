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

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/cachegate" ./cmd/cachegate
go build -o "$work/bare" ./bench/bare
go build -o "$work/fill" ./bench/fill

"$work/bare" -size "$SIZE" >"$work/bare.log" 2>&1 & pids+=($!)
until grep -q listening "$work/bare.log"; do sleep 0.05; done
bare=$(awk '/listening/{print $4}' "$work/bare.log")

rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }

# start_gateway CONFIG: starts serve with CONFIG (a file, may be empty) and
# sets gw and gwpid.
start_gateway() {
	local args=(serve --origin "http://$bare" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0)
	[ -n "$1" ] && args+=(--config "$1")
	: >"$work/gw.log"
	CACHEGATE_ADMIN_TOKEN=bench-admin-token-0123456789 "$work/cachegate" "${args[@]}" >"$work/gw.log" 2>&1 & gwpid=$!; pids+=($gwpid)
	until grep -q 'gateway listening' "$work/gw.log"; do
		kill -0 "$gwpid" 2>/dev/null || { cat "$work/gw.log"; exit 1; }
		sleep 0.05
	done
	gw=$(grep -o 'gateway listening on [^ ]*' "$work/gw.log" | awk '{print $4}')
	curl -fsS -o /dev/null "http://$gw/warm"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "env: GOMEMLIMIT=${GOMEMLIMIT:-unset} GOGC=${GOGC:-unset}"

start_gateway ""
idle=$(rss "$gwpid")
filled=$("$work/fill" -url "http://$gw" -n "$N" -pid "$gwpid" | awk '/rss_kib/{print $2}')
hits=$("$work/fill" -url "http://$gw" -n "$N" -pid "$gwpid" | awk '/rss_kib/{print $2}')
payload=$((N * SIZE / 1024))
echo "default L1: idle $(mib "$idle"); after $N x $SIZE B stored $(mib "$filled") (payload $(mib "$payload")); after reading them all again $(mib "$hits")"
kill "$gwpid"; wait "$gwpid" 2>/dev/null || true

printf 'l1:\n  max_bytes: %s\n' "$BUDGET" >"$work/budget.yaml"
start_gateway "$work/budget.yaml"
idle=$(rss "$gwpid")
peak=$idle
"$work/fill" -url "http://$gw" -n "$STREAM" >"$work/stream.out" & fillpid=$!
while kill -0 "$fillpid" 2>/dev/null; do
	r=$(rss "$gwpid"); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1
done
wait "$fillpid"
end=$(rss "$gwpid")
echo "L1 budget $BUDGET: idle $(mib "$idle"); $STREAM distinct URLs streamed through: peak $(mib "$peak"), at the end $(mib "$end")"
