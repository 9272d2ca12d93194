# Shared by the bench-*.sh scripts (sourced, not run). They keep the PIDs
# of their direct children in the array $pids.

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
