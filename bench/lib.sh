# Shared by the bench scripts (sourced, not run): a work directory removed
# on exit with every process started through it, the binaries, and
# starting the bare server and the gateway.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.2; rm -rf "$work"; }
trap cleanup EXIT

# With PIN=1 (the default where taskset exists and there are two cores)
# servers run on CPU 0 with GOMAXPROCS=1 and load generators on CPU 1:
# prefix their commands with "${server_cpu[@]}" and "${client_cpu[@]}";
# threads is wrk's thread count.
server_cpu=(); client_cpu=(); threads=2
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	server_cpu=(env GOMAXPROCS=1 taskset -c 0); client_cpu=(taskset -c 1); threads=1
fi

build() {
	go build -o "$work/cachegate" ./cmd/cachegate
	go build -o "$work/bare" ./bench/bare
	go build -o "$work/fill" ./bench/fill
}

# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# rss_tree PID: resident KiB of PID and all its descendants.
rss_tree() {
	local total c
	total=$(awk '/VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
	for c in $(pgrep -P "$1" 2>/dev/null); do total=$((total + $(rss_tree "$c"))); done
	echo "${total:-0}"
}

mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }

# start_bare SIZE [CPU-PREFIX...]: sets bare (its address).
start_bare() {
	local size=$1; shift
	"$@" "$work/bare" -size "$size" >"$work/bare.log" 2>&1 & pids+=($!)
	until grep -q listening "$work/bare.log"; do sleep 0.05; done
	bare=$(awk '/listening/{print $4}' "$work/bare.log")
}

# start_gateway CONFIG [CPU-PREFIX...]: serve in front of bare, with CONFIG
# (a file; "" for none) and extra flags in GW_FLAGS; sets gw and gwpid.
start_gateway() {
	local cfg=$1; shift
	local args=(serve --origin "http://$bare" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 ${GW_FLAGS:-})
	[ -n "$cfg" ] && args+=(--config "$cfg")
	CACHEGATE_ADMIN_TOKEN=bench-admin-token-0123456789 "$@" "$work/cachegate" "${args[@]}" >"$work/gw.log" 2>&1 & gwpid=$!; pids+=($gwpid)
	until grep -q 'gateway listening' "$work/gw.log"; do
		kill -0 "$gwpid" 2>/dev/null || { cat "$work/gw.log"; exit 1; }
		sleep 0.05
	done
	gw=$(grep -o 'gateway listening on [^ ]*' "$work/gw.log" | awk '{print $4}')
	gwadmin=$(grep -o 'admin listening on [^ ]*' "$work/gw.log" | awk '{print $4}')
}

machine() {
	echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%dT%H:%MZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
