#!/usr/bin/env bash
# `make bench-serve`: load benchmark of `avcat serve` (issue 3, "Performance").
#
# One publisher of the demo clip (testdata/media/h264_baseline_aac.mp4,
# looped by ffmpeg in real time) is fanned out to N RTSP/TCP readers, for
# each N in BENCH_READERS, on loopback. The readers are scripts/benchreader:
# N gortsplib client sessions in one process that count packets, bytes and
# RTP sequence gaps. For the SERVER process the run reports CPU seconds
# (utime+stime, /proc/PID/stat), CPU seconds per reader-minute, bytes/s
# delivered (sum over readers), packets lost, and RSS (final VmRSS, peak
# VmHWM). Each (server, N) gets a fresh server process, so the peak RSS
# belongs to that load.
#
# References: mediamtx (scripts/install-mediamtx.sh; it shares gortsplib with
# avcat, so it shows what the library costs) and the same load against GStreamer's RTSP server
# (internal/testpeer/gst_rtsp_server.py, python3-gi), one shared media fed
# by the same ffmpeg loop (MPEG-TS over UDP) and payloaded in-process.
# The RTP packetization is matched, since CPU cost is per packet more than
# per byte: ffmpeg publishes to avcat with -max_delay 0 (one AAC frame per
# packet, like rtpmp4gpay) and rtph264pay aggregates the AUD that MPEG-TS
# adds with its slice (aggregate-mode=zero-latency, one packet per frame
# like ffmpeg). The table has both rows and the avcat/reference ratios.
# Note: the reference's CPU includes its demux and payloading of the
# source (a fixed cost that weighs most at small N); avcat's ingest is only
# the RTSP receive of the publisher's packets.
#
# Environment:
#   BENCH_DURATION   measurement window per run, in seconds (default 20)
#   BENCH_READERS    reader counts (default "10 100 500")
#   BENCH_REFERENCE  references to run beside avcat, a list of gst, mediamtx
#                    or none; auto (the default) is both when available
#   BENCH_CLIP       the clip to publish (default the demo clip)
#   BENCH_OUT        also copy the NDJSON results to this file
#   AVCAT            an avcat binary to use (default: build one)
#   GO               the go command (default go)
#
# Needs ffmpeg; the reference needs /usr/bin/python3 with gi, GstRtspServer
# and the GStreamer elements tsdemux, h264parse, aacparse, rtph264pay,
# rtpmp4gpay. Only 127.0.0.1 is used; ports are picked free at run time.
# Every process this script starts is killed by PID on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${BENCH_DURATION:-20}
READERS=${BENCH_READERS:-"10 100 500"}
REFERENCE=${BENCH_REFERENCE:-auto}
CLIP=${BENCH_CLIP:-testdata/media/h264_baseline_aac.mp4}
GO=${GO:-go}
PY=/usr/bin/python3 # the pyenv python3 first on PATH may lack gi

log() { printf 'bench-serve: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-serve.XXXXXX")
pids=()

# shellcheck source=scripts/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"
[[ -f $CLIP ]] || die "no clip at $CLIP"

# N readers hold N sockets in the reader and in the server.
max=0
for n in $READERS; do ((n > max)) && max=$n; done
want=$((2 * max + 512))
if (($(ulimit -n) < want)); then
	ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null ||
		log "warning: cannot raise the open files limit ($(ulimit -n)); large N may fail"
fi

if [[ -z ${AVCAT:-} ]]; then
	log "building avcat"
	CGO_ENABLED=0 $GO build -trimpath -o "$work/avcat" ./cmd/avcat
	AVCAT=$work/avcat
fi
log "building scripts/benchreader"
$GO build -o "$work/benchreader" ./scripts/benchreader
br=$work/benchreader
results=$work/results.ndjson
: >"$results"

# publish_loop ARGS...: ffmpeg looping the clip in real time to ARGS.
publish_loop() {
	start_bg "$work/ffmpeg.log" ffmpeg -nostdin -hide_banner -loglevel error \
		-re -stream_loop -1 -i "$CLIP" -c copy "$@"
	fpid=$bg
}

measure() { # LABEL N URL SERVERPID
	local label=$1 n=$2 url=$3 spid=$4
	if ! "$br" run -url "$url" -n "$n" -duration "${DURATION}s" -pid "$spid" -label "$label" \
		>>"$results" 2>"$work/reader.log"; then
		log "$label N=$n failed: $(tail -n 3 "$work/reader.log")"
		tail -n 5 "$work/ffmpeg.log" >&2 || true
		return 1
	fi
	[[ -s $work/reader.log ]] && log "$label N=$n: $(tail -n 1 "$work/reader.log")"
	return 0
}

# start_server LABEL LOG FN: FN PORT starts a server on PORT (start_bg);
# a free port can be taken between pick and bind, so up to 3 tries. Sets
# port and spid.
start_server() {
	local label=$1 logf=$2 fn=$3 try
	for try in 1 2 3; do
		port=$("$br" freeport)
		"$fn" "$port"
		spid=$bg
		wait_port "$port" "$spid" && return 0
		stop "$spid"
	done
	die "$label did not start: $(tail -n 3 "$logf")"
}

# No session or connection cap: N readers are the point.
start_avcat() { start_bg "$work/avcat.log" "$AVCAT" serve --rtsp "127.0.0.1:$1" --no-rtmp --no-udp --max-sessions 0 --max-conns 0; }

run_avcat() { # N
	local n=$1 port spid
	start_server "avcat serve" "$work/avcat.log" start_avcat
	publish_loop -max_delay 0 -f rtsp -rtsp_transport tcp "rtsp://127.0.0.1:$port/bench"
	measure avcat "$n" "rtsp://127.0.0.1:$port/bench" "$spid" || true
	stop "$fpid"
	stop "$spid"
}

gst_available() {
	[[ -x $PY ]] || return 1
	$PY -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' \
		2>/dev/null || return 1
	local e
	for e in udpsrc tsdemux h264parse aacparse rtph264pay rtpmp4gpay; do
		gst-inspect-1.0 "$e" >/dev/null 2>&1 || return 1
	done
}

start_gst() {
	local launch cfg
	udp=$("$br" freeport -udp)
	launch="udpsrc address=127.0.0.1 port=$udp caps=video/mpegts,systemstream=true,packetsize=188 buffer-size=2097152"
	launch+=" ! tsdemux name=d"
	launch+=" d. ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 aggregate-mode=zero-latency"
	launch+=" d. ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97"
	cfg=$(printf '{"port": %d, "mounts": [{"path": "/bench", "shared": true, "launch": "%s"}]}' "$1" "$launch")
	start_bg "$work/gst.log" "$PY" internal/testpeer/gst_rtsp_server.py "$cfg"
}

run_gst() { # N
	local n=$1 port udp spid
	start_server "GStreamer RTSP server" "$work/gst.log" start_gst
	publish_loop -f mpegts "udp://127.0.0.1:$udp?pkt_size=1316"
	measure gst-rtsp-server "$n" "rtsp://127.0.0.1:$port/bench" "$spid" || true
	stop "$fpid"
	stop "$spid"
}

start_mediamtx() {
	cat >"$work/mediamtx.yml" <<YML
logLevel: error
rtspTransports: [tcp]
rtspAddress: 127.0.0.1:$1
rtmp: no
hls: no
webrtc: no
srt: no
api: no
metrics: no
pprof: no
playback: no
paths:
  all_others:
YML
	start_bg "$work/mediamtx.log" "$mtx" "$work/mediamtx.yml"
}

# run_mediamtx N: mediamtx, RTSP over TCP only, published to like avcat.
run_mediamtx() {
	local n=$1 port spid
	start_server mediamtx "$work/mediamtx.log" start_mediamtx
	publish_loop -max_delay 0 -f rtsp -rtsp_transport tcp "rtsp://127.0.0.1:$port/bench"
	measure mediamtx "$n" "rtsp://127.0.0.1:$port/bench" "$spid" || true
	stop "$fpid"
	stop "$spid"
}

# The references: GStreamer (its own RTSP code) and mediamtx (same
# gortsplib as avcat; built by scripts/install-mediamtx.sh).
refs=()
mtx=
for r in $REFERENCE; do
	case $r in
	auto)
		if gst_available; then refs+=(gst); else log "reference skipped: GStreamer RTSP server (python3-gi, gst-rtsp-server, plugins) not available"; fi
		if mtx=$(scripts/install-mediamtx.sh 2>"$work/mtx-install.log"); then refs+=(mediamtx); else log "reference skipped: mediamtx could not be built: $(tail -n 2 "$work/mtx-install.log")"; fi
		;;
	gst) gst_available || die "BENCH_REFERENCE=gst but the GStreamer RTSP server is not available"; refs+=(gst) ;;
	mediamtx) mtx=$(scripts/install-mediamtx.sh) || die "BENCH_REFERENCE=mediamtx but mediamtx could not be built"; refs+=(mediamtx) ;;
	none) ;;
	*) die "BENCH_REFERENCE is a list of: auto, gst, mediamtx, none" ;;
	esac
done

log "clip $CLIP, readers: $READERS, ${DURATION}s each, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $READERS; do
	log "avcat serve, N=$n"
	run_avcat "$n"
	for r in "${refs[@]}"; do
		log "$r, N=$n"
		"run_$r" "$n"
	done
done

[[ -s $results ]] || die "no run succeeded"
[[ -n ${BENCH_OUT:-} ]] && cp "$results" "$BENCH_OUT"
echo
echo "avcat serve: 1 publisher -> N RTSP/TCP readers, ${DURATION}s per run, $(nproc) CPUs, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$br" table "$results"
