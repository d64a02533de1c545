#!/usr/bin/env bash
# Load script: in one run on this machine, compares requests/s, p99 latency
# and resident memory of (a) a bare Go server answering the same bytes from
# memory (and "bare-fields": the same server writing every header field a
# gateway hit carries, static, the ceiling of any handler behind net/http),
# (b) the gateway answering from L1, (c) Varnish and (d) nginx
# proxy_cache in front of the same bare server (both installed from Debian
# when missing; SKIP_OTHERS=1 leaves them out). Two workloads: one hot URL,
# and 10,000 URLs requested uniformly at random (all stored beforehand).
# Rounds are interleaved (every server and workload once per round) so
# host noise hits all alike; the table shows the median of the rounds and
# the ratio to the bare server. RSS is measured after the 10,000 URLs are
# stored (Varnish's and nginx's include their child processes; nginx's
# cache also lives in the page cache, which RSS does not show).
#
# With PIN=1 (the default where taskset exists) the servers run on CPU 0
# (GOMAXPROCS=1, one nginx worker) and wrk on CPU 1; PIN=0 shares both.
# Usage: bench/run.sh [DURATION] [CONNECTIONS] [SIZE] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
SIZE=${3:-2048}
ROUNDS=${4:-5}
SPREAD=10000
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
install() { # command package
	command -v "$1" >/dev/null && return
	$SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "$2" >/dev/null
}
install wrk wrk
servers=(bare bare-fields gateway)
if [ "${SKIP_OTHERS:-0}" != 1 ]; then
	install varnishd varnish && servers+=(varnish)
	install nginx nginx-light && servers+=(nginx)
fi

. bench/lib.sh
build
chmod 755 "$work"
start_bare "$SIZE" "${server_cpu[@]}"
declare -A addr pid
addr[bare]=$bare; pid[bare]=${pids[-1]}
# The same bare server writing every field a gateway hit carries: what
# net/http itself costs for a response of that shape (bench/bare -fields).
port=$(free_port)
"${server_cpu[@]}" "$work/bare" -size "$SIZE" -fields gateway -listen "127.0.0.1:$port" >"$work/bare-fields.log" 2>&1 & pids+=($!)
addr[bare-fields]=127.0.0.1:$port; pid[bare-fields]=$!
start_gateway "" "${server_cpu[@]}"
addr[gateway]=$gw; pid[gateway]=$gwpid

if [[ " ${servers[*]} " == *" varnish "* ]]; then
	port=$(free_port)
	# Default VCL: stores what the origin's Cache-Control allows, in memory.
	"${server_cpu[@]}" varnishd -F -a "127.0.0.1:$port" -b "$bare" -n "$work/varnish" -s malloc,256m \
		-p thread_pools=1 >"$work/varnish.log" 2>&1 & pids+=($!)
	addr[varnish]=127.0.0.1:$port; pid[varnish]=$!
fi
if [[ " ${servers[*]} " == *" nginx "* ]]; then
	port=$(free_port)
	mkdir -p "$work/nginx"
	cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
user root;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	# Stores what the origin's Cache-Control allows, keyed by URL.
	proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=c:32m max_size=1g inactive=1h use_temp_path=off;
	upstream origin { server $bare; keepalive 64; }
	server {
		listen 127.0.0.1:$port;
		location / {
			proxy_pass http://origin;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_cache c;
		}
	}
}
CONF
	"${server_cpu[@]}" nginx -p "$work/nginx" -c "$work/nginx.conf" -e "$work/nginx/error.log" >"$work/nginx.log" 2>&1 & pids+=($!)
	addr[nginx]=127.0.0.1:$port; pid[nginx]=$!
fi
for s in "${servers[@]}"; do
	until curl -fsS -o /dev/null "http://${addr[$s]}/bench" 2>/dev/null; do
		kill -0 "${pid[$s]}" 2>/dev/null || { echo "$s did not start:"; cat "$work/$s.log" 2>/dev/null; exit 1; }
		sleep 0.1
	done
	curl -fsS -o /dev/null "http://${addr[$s]}/bench"
	"$work/fill" -url "http://${addr[$s]}" -n "$SPREAD" -c 8
	"$work/fill" -url "http://${addr[$s]}" -n "$SPREAD" -c 8 # second pass: every URL stored
done

# What each cache says about a hit, to show that the hot URL is one.
curl -fsS -D - -o /dev/null "http://$gw/bench" | grep -i '^cache-status' || true
declare -A rss
for s in "${servers[@]}"; do rss[$s]=$(rss_tree "${pid[$s]}"); done

cat >"$work/spread.lua" <<LUA
math.randomseed(os.time())
request = function() return wrk.format("GET", "/fill/" .. math.random(0, $SPREAD - 1)) end
LUA
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
measure() { # server workload
	local url="http://${addr[$1]}/bench" script=()
	[ "$2" = spread ] && script=(-s "$work/spread.lua")
	"${client_cpu[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${script[@]}" "$url" >"$work/out.wrk"
	awk '/Requests\/sec/{print $2}' "$work/out.wrk" >>"$work/$1.$2.rps"
	awk '$1=="99%"{print $2}' "$work/out.wrk" | ms >>"$work/$1.$2.p99"; echo >>"$work/$1.$2.p99"
	printf '  %-8s %-6s %10s req/s  p99 %s\n' "$1" "$2" "$(tail -1 "$work/$1.$2.rps")" "$(awk '$1=="99%"{print $2}' "$work/out.wrk")"
}
median() { sort -g "$1" | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

machine
echo "load: wrk -t$threads -c$CONNECTIONS -d${DURATION}s, $SIZE-byte bodies, $ROUNDS interleaved rounds, servers ${server_cpu[*]:-unpinned}, wrk ${client_cpu[*]:-unpinned}"
for r in $(seq "$ROUNDS"); do
	echo "round $r (load average $(cut -d' ' -f1 /proc/loadavg))"
	for w in hot spread; do
		for s in "${servers[@]}"; do measure "$s" "$w"; done
	done
done

hot0=$(median "$work/bare.hot.rps"); spread0=$(median "$work/bare.spread.rps")
echo
echo "| server | hot URL req/s | vs bare | $SPREAD URLs req/s | vs bare | p99 hot | p99 spread | RSS after $SPREAD stored |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for s in "${servers[@]}"; do
	h=$(median "$work/$s.hot.rps"); sp=$(median "$work/$s.spread.rps")
	awk -v s="$s" -v h="$h" -v sp="$sp" -v h0="$hot0" -v sp0="$spread0" -v ph="$(median "$work/$s.hot.p99")" \
		-v ps="$(median "$work/$s.spread.p99")" -v rss="${rss[$s]}" \
		'BEGIN{printf "| %s | %.0f | %.2f | %.0f | %.2f | %.2f ms | %.2f ms | %.1f MiB |\n", s, h, h/h0, sp, sp/sp0, ph, ps, rss/1024}'
done
