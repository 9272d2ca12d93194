# Shared by the bench-*.sh scripts (sourced, not run). They keep the PIDs
# of their direct children in the array $pids and a temp dir in $work.

# stop PID: SIGTERM, then SIGKILL after 3 s (ffmpeg may ignore the first
# SIGTERM while blocked). Only PIDs still in $pids (our children, not yet
# reaped) are signalled, so a reused PID is never touched.
stop() {
	local pid=$1 i p keep=()
	for p in "${pids[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	((${#keep[@]} < ${#pids[@]})) || return 0
	pids=("${keep[@]}")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# start_bg LOG CMD...: start CMD in the background, record its PID in $bg.
start_bg() {
	local logf=$1
	shift
	"$@" >"$logf" 2>&1 &
	bg=$!
	pids+=("$bg")
}

# wait_port PORT PID: poll until PORT accepts connections, while PID lives.
wait_port() {
	local port=$1 pid=$2 i
	for i in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# bench_cleanup: stop every child left, remove $work (the EXIT trap).
bench_cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		stop "$pid"
	done
	rm -rf "$work"
}
