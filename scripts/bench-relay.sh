#!/usr/bin/env bash
# `make bench-relay`: benchmark of `avcat relay` (issue 6, "Performance").
#
# One live stream is relayed RTSP->RTSP and RTSP->RTMP, by avcat and, in
# the same run and on the same servers, by the reference
# `ffmpeg -i SRC -c copy -f rtsp|flv DST`:
#
#   ffmpeg -re -stream_loop -1 CLIP --RTSP/TCP--> avcat serve (source)
#       --RTSP/TCP--> RELAY --RTSP/TCP--> avcat serve (destination)
#                           --RTMP------> nginx-rtmp   (destination)
#
# For each relay and path, scripts/benchrelay reads the source and the
# destination at the same time for BENCH_DURATION seconds and reports:
# - the relay process's CPU seconds per relayed stream-minute (utime+stime
#   from /proc/PID/stat over the window) and its RSS (final VmRSS, peak
#   VmHWM);
# - the added latency, p50/p90/p99/max: for every H.264 access unit (keyed
#   by a hash of its VCL NAL units, which no relay changes), the time it
#   reached the destination reader minus the time it reached the source
#   reader. Both reads run in one process on one clock, and the source
#   server writes each packet to the relay and to the source reader in the
#   same loop, so the source arrival stands for "the packet left the source
#   server". The destination server's forwarding and the reader are part of
#   the figure, for both relays alike.
# The table ends with the avcat/ffmpeg ratios (goal: CPU <= 0.5) and the
# RTSP->RTSP p99 (goal: < 5 ms).
#
# Environment:
#   BENCH_DURATION   measurement window per run, in seconds (default 20)
#   BENCH_CLIP       the clip (default testdata/media/h264_baseline_aac.mp4)
#   BENCH_OUT        also copy the NDJSON results to this file
#   AVCAT            an avcat binary to use (default: build one)
#   GO               the go command (default go)
#
# Needs ffmpeg, and nginx with libnginx-mod-rtmp for the RTMP rows (they
# are skipped with a message without it). Only 127.0.0.1 is used; ports are
# picked free at run time. Every process this script starts is killed by
# PID on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${BENCH_DURATION:-20}
CLIP=${BENCH_CLIP:-testdata/media/h264_baseline_aac.mp4}
GO=${GO:-go}

log() { printf 'bench-relay: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-relay.XXXXXX")
pids=()

# shellcheck source=scripts/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"
[[ -f $CLIP ]] || die "no clip at $CLIP"

if [[ -z ${AVCAT:-} ]]; then
	log "building avcat"
	CGO_ENABLED=0 $GO build -trimpath -o "$work/avcat" ./cmd/avcat
	AVCAT=$work/avcat
fi
log "building scripts/benchrelay"
$GO build -o "$work/benchrelay" ./scripts/benchrelay
br=$work/benchrelay
results=$work/results.ndjson
: >"$results"

# start_serve NAME: an avcat serve (RTSP only, TCP only) on a free port;
# sets $port and $spid.
start_serve() {
	local name=$1 try
	for try in 1 2 3; do # a free port can be taken between pick and bind
		port=$("$br" freeport)
		start_bg "$work/$name.log" "$AVCAT" serve --rtsp "127.0.0.1:$port" --no-rtmp --no-udp
		spid=$bg
		wait_port "$port" "$spid" && return 0
		stop "$spid"
	done
	die "avcat serve ($name) did not start: $(tail -n 3 "$work/$name.log")"
}

nginx_bin() {
	command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || return 1
}

nginx_module() {
	local d
	for d in /usr/lib/nginx/modules /usr/lib64/nginx/modules /usr/share/nginx/modules; do
		[[ -f $d/ngx_rtmp_module.so ]] && { echo "$d/ngx_rtmp_module.so"; return 0; }
	done
	return 1
}

# start_nginx: nginx-rtmp (single process, files in $work/nginx) on a free
# port; sets $nport and $npid, or returns 1 when nginx-rtmp is missing.
start_nginx() {
	local bin mod try dir=$work/nginx
	bin=$(nginx_bin) || return 1
	mod=$(nginx_module) || return 1
	mkdir -p "$dir"
	for try in 1 2 3; do
		nport=$("$br" freeport)
		cat >"$dir/nginx.conf" <<EOF
load_module $mod;
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
rtmp {
    access_log $dir/access.log;
    server {
        listen 127.0.0.1:$nport;
        chunk_size 4096;
        application live { live on; record off; }
    }
}
EOF
		start_bg "$dir/nginx.out" "$bin" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log"
		npid=$bg
		wait_port "$nport" "$npid" && return 0
		stop "$npid"
	done
	die "nginx-rtmp did not start: $(tail -n 3 "$dir/error.log" "$dir/nginx.out" 2>/dev/null)"
}

# run LABEL PATHNAME SRC DST CMD...: start the relay CMD, measure it, stop it.
run() {
	local label=$1 path=$2 src=$3 dst=$4 rpid
	shift 4
	log "$label $path: $*"
	start_bg "$work/relay-$label.log" "$@"
	rpid=$bg
	if ! "$br" measure -src "$src" -dst "$dst" -pid "$rpid" -duration "${DURATION}s" -label "$label" \
		>>"$results" 2>"$work/measure.log"; then
		log "$label $path failed: $(tail -n 3 "$work/measure.log")"
		tail -n 5 "$work/relay-$label.log" >&2 || true
	fi
	stop "$rpid"
}

start_serve source
src_port=$port
start_serve destination
dst_port=$port
src="rtsp://127.0.0.1:$src_port/src"
log "publishing $CLIP in a loop to $src"
start_bg "$work/publisher.log" ffmpeg -nostdin -hide_banner -loglevel error -re -stream_loop -1 -i "$CLIP" \
	-c copy -f rtsp -rtsp_transport tcp "$src"
"$br" wait "$src" || die "the source never played: $(tail -n 3 "$work/publisher.log")"

log "clip $CLIP, ${DURATION}s per run, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run avcat rtsp-rtsp "$src" "rtsp://127.0.0.1:$dst_port/avcat" \
	"$AVCAT" relay --transport tcp "$src" "rtsp://127.0.0.1:$dst_port/avcat"
run ffmpeg rtsp-rtsp "$src" "rtsp://127.0.0.1:$dst_port/ffmpeg" \
	ffmpeg -nostdin -hide_banner -loglevel error -rtsp_transport tcp -i "$src" -c copy -f rtsp -rtsp_transport tcp "rtsp://127.0.0.1:$dst_port/ffmpeg"

if start_nginx; then
	run avcat rtsp-rtmp "$src" "rtmp://127.0.0.1:$nport/live/avcat" \
		"$AVCAT" relay --transport tcp "$src" "rtmp://127.0.0.1:$nport/live/avcat"
	run ffmpeg rtsp-rtmp "$src" "rtmp://127.0.0.1:$nport/live/ffmpeg" \
		ffmpeg -nostdin -hide_banner -loglevel error -rtsp_transport tcp -i "$src" -c copy -f flv "rtmp://127.0.0.1:$nport/live/ffmpeg"
else
	log "RTSP->RTMP skipped: nginx with libnginx-mod-rtmp is not installed (apt-get install nginx libnginx-mod-rtmp)"
fi

[[ -s $results ]] || die "no run succeeded"
[[ -n ${BENCH_OUT:-} ]] && cp "$results" "$BENCH_OUT"
echo
echo "avcat relay vs ffmpeg -c copy: 1 live stream (640x480 25 fps H.264 + AAC), ${DURATION}s per run, $(nproc) CPUs, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$br" table "$results"
