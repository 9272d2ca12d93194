#!/usr/bin/env bash
# `make bench-record`: CPU and memory of `avcat record` (issue 4, "Performance").
#
# One live source: `avcat serve` on free loopback ports, fed by ffmpeg
# looping testdata/media/h264_baseline_aac.mp4 in real time (stream copy,
# RTSP over TCP). For each N in BENCH_COUNTS, N concurrent recorders of that
# source run for BENCH_DURATION seconds each, first
#   avcat record --transport tcp -o OUT.mp4 --duration D URL
# then, in the same run, the reference
#   ffmpeg -rtsp_transport tcp -i URL -c copy -t D OUT.mp4
# For each recorder process the script measures:
#   - CPU seconds, user + system: the utime+stime of the process as
#     /proc/PID/stat counts it, read exactly after the process exited (each
#     recorder runs under a small bash wrapper that waits for it and reads
#     its own cutime+cstime from /proc/WRAPPER/stat);
#   - peak RSS: VmHWM from /proc/PID/status, sampled every 0.2 s while it
#     runs.
# The table gives, per tool and N: CPU seconds per recorded stream-minute
# (total CPU / (N * D / 60)), the largest peak RSS of one recorder, the
# sum of the peaks, and how many outputs are complete MP4s with about
# D*25 video frames; then the avcat/ffmpeg ratios. The goal of the issue:
# less CPU and memory than ffmpeg (ratios below 1).
#
# Environment:
#   BENCH_DURATION   seconds recorded by each recorder (default 20)
#   BENCH_COUNTS     concurrent recorder counts (default "1 20")
#   BENCH_CLIP       the clip to loop (default testdata/media/h264_baseline_aac.mp4)
#   BENCH_OUT        also write the results as TSV to this file
#   AVCAT            an avcat binary to use (default: build one)
#   GO               the go command (default go)
#
# Needs ffmpeg, ffprobe and /usr/bin/python3 (to pick free ports). Only
# 127.0.0.1 is used. Every process this script starts is stopped by PID on
# exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${BENCH_DURATION:-20}
COUNTS=${BENCH_COUNTS:-"1 20"}
CLIP=${BENCH_CLIP:-testdata/media/h264_baseline_aac.mp4}
GO=${GO:-go}
TCK=$(getconf CLK_TCK)

log() { printf 'bench-record: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 2)) || die "BENCH_DURATION must be a whole number of seconds >= 2"
command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"
command -v ffprobe >/dev/null || die "ffprobe is needed (apt-get install ffmpeg)"
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is needed to pick free ports"
[[ -f $CLIP ]] || die "no clip at $CLIP"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-record.XXXXXX")
pids=() # our direct children, not yet reaped

# shellcheck source=scripts/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

# kill_child WRAPPER: SIGKILL the recorder of a wrapper, if it still runs
# and is still the wrapper's child (so its PID cannot have been reused).
kill_child() {
	local w=$1 c
	c=$(cat "$work/run/$w.pid" 2>/dev/null) || return 0
	[[ -r /proc/$c/stat ]] || return 0
	[[ $(awk '{print $4}' "/proc/$c/stat" 2>/dev/null) == "$w" ]] || return 0
	kill -KILL "$c" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill_child "$pid"
		stop "$pid"
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [[ -z ${AVCAT:-} ]]; then
	log "building avcat"
	CGO_ENABLED=0 $GO build -trimpath -o "$work/avcat" ./cmd/avcat
	AVCAT=$work/avcat
fi

# The source: avcat serve, fed by a looping ffmpeg publisher.
for try in 1 2 3; do # a free port can be taken between pick and bind
	port=$(freeport)
	start_bg "$work/serve.log" "$AVCAT" serve --rtsp "127.0.0.1:$port" --no-rtmp --no-udp
	spid=$bg
	wait_port "$port" "$spid" && break
	stop "$spid"
	spid=
done
[[ -n ${spid:-} ]] || die "avcat serve did not start: $(tail -n 3 "$work/serve.log")"
url="rtsp://127.0.0.1:$port/bench"
start_bg "$work/publish.log" ffmpeg -nostdin -hide_banner -loglevel error -re -stream_loop -1 -i "$CLIP" \
	-c copy -f rtsp -rtsp_transport tcp "$url"
fpid=$bg
live=
for i in $(seq 150); do
	if "$AVCAT" probe --sdp --timeout 2s "$url" >/dev/null 2>&1; then
		live=1
		break
	fi
	kill -0 "$fpid" 2>/dev/null || die "the publisher exited: $(tail -n 3 "$work/publish.log")"
	sleep 0.1
done
[[ -n $live ]] || die "$url never became live"

results=$work/results.tsv
printf 'tool\tn\tduration_s\tcpu_s\tcpu_s_per_stream_min\tpeak_rss_kib_max\tpeak_rss_kib_sum\toutputs_ok\tframes_mean\n' >"$results"

# run TOOL N: N concurrent recorders of $url for $DURATION s; appends a row.
run() {
	local tool=$1 n=$2 i w dir=$work/$1-$2 wrappers=() deadline now
	mkdir -p "$dir" "$work/run"
	for i in $(seq "$n"); do
		local out=$dir/out$i.mp4 cmd
		if [[ $tool == avcat ]]; then
			cmd=("$AVCAT" record --transport tcp -o "$out" --duration "${DURATION}s" "$url")
		else
			cmd=(ffmpeg -nostdin -hide_banner -loglevel error -rtsp_transport tcp -i "$url" -c copy -t "$DURATION" -y "$out")
		fi
		# The wrapper waits for the recorder, then reads its own
		# cutime/cstime (fields 16 and 17): the recorder's exact CPU.
		RUNDIR=$work/run LOGF=$dir/log$i bash -c '
			"$@" >"$LOGF" 2>&1 &
			c=$!
			echo "$c" >"$RUNDIR/$$.pid"
			wait "$c"
			rc=$?
			read -r -a st </proc/$$/stat
			echo "$rc ${st[15]} ${st[16]}" >"$RUNDIR/$$.res"
		' bench-wrapper "${cmd[@]}" &
		w=$!
		pids+=("$w")
		wrappers+=("$w")
	done
	# Sample the peak RSS of each recorder until all are done.
	declare -A hwm=()
	deadline=$((SECONDS + DURATION + 60))
	while :; do
		local running=0 c v
		for w in "${wrappers[@]}"; do
			[[ -e $work/run/$w.res ]] && continue
			running=1
			c=$(cat "$work/run/$w.pid" 2>/dev/null) || continue
			v=$(awk '/^VmHWM:/ {print $2}' "/proc/$c/status" 2>/dev/null) || v=
			if [[ -n $v ]] && ((v > ${hwm[$w]:-0})); then
				hwm[$w]=$v
			fi
		done
		((running)) || break
		if ((SECONDS > deadline)); then
			log "$tool N=$n: recorders still running $((DURATION + 60)) s after the start; killing them"
			for w in "${wrappers[@]}"; do kill_child "$w"; done
		fi
		sleep 0.2
	done
	local cpu_ticks=0 rss_max=0 rss_sum=0 ok=0 frames_sum=0 rc ut st f
	for i in "${!wrappers[@]}"; do
		w=${wrappers[$i]}
		stop "$w"
		read -r rc ut st <"$work/run/$w.res"
		cpu_ticks=$((cpu_ticks + ut + st))
		v=${hwm[$w]:-0}
		((v > rss_max)) && rss_max=$v
		rss_sum=$((rss_sum + v))
		if ((rc != 0)); then
			log "$tool N=$n recorder $((i + 1)) exited $rc: $(tail -n 2 "$dir/log$((i + 1))" | tr '\n' ' ')"
		fi
		# A complete MP4 with about D*25 frames (nb_frames is read from the
		# moov, no decoding).
		f=$(ffprobe -v error -select_streams v:0 -show_entries stream=nb_frames -of csv=p=0 "$dir/out$((i + 1)).mp4" 2>/dev/null | head -n 1) || f=
		if [[ $f =~ ^[0-9]+$ ]] && ((f >= (DURATION - 2) * 25)); then
			ok=$((ok + 1))
		fi
		[[ $f =~ ^[0-9]+$ ]] && frames_sum=$((frames_sum + f))
	done
	awk -v tool="$tool" -v n="$n" -v d="$DURATION" -v ticks="$cpu_ticks" -v tck="$TCK" -v rmax="$rss_max" \
		-v rsum="$rss_sum" -v ok="$ok" -v fs="$frames_sum" 'BEGIN {
			cpu = ticks / tck
			printf "%s\t%d\t%d\t%.2f\t%.3f\t%d\t%d\t%d/%d\t%.0f\n", tool, n, d, cpu, cpu / (n * d / 60), rmax, rsum, ok, n, fs / n
		}' >>"$results"
	rm -rf "$dir"
}

log "source $url ($CLIP looped by ffmpeg), counts: $COUNTS, ${DURATION}s each, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $COUNTS; do
	for tool in avcat ffmpeg; do
		log "$tool record, N=$n"
		run "$tool" "$n"
	done
done
kill -0 "$fpid" 2>/dev/null || log "warning: the publisher died during the run: $(tail -n 3 "$work/publish.log")"

[[ -n ${BENCH_OUT:-} ]] && cp "$results" "$BENCH_OUT"
echo
kbps=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$CLIP" 2>/dev/null | awk '{printf "%d", $1 / 1000}') || kbps=?
echo "record: N concurrent recorders of one live RTSP/TCP source ($(basename "$CLIP") looped, ${kbps} kbit/s), ${DURATION}s each, $(nproc) CPUs, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F'\t' '
	NR == 1 { next }
	{
		row[$1, $2] = $0; cpu[$1, $2] = $5; rmax[$1, $2] = $6; rsum[$1, $2] = $7
		if (!($2 in seen)) { seen[$2] = 1; order[++nn] = $2 }
	}
	END {
		printf "%-7s %4s %6s %12s %20s %16s %16s %10s %8s\n", "tool", "N", "D (s)", "CPU s total", "CPU s/stream-min", "peak RSS max", "peak RSS sum", "complete", "frames"
		for (i = 1; i <= nn; i++) {
			n = order[i]
			for (t = 1; t <= 2; t++) {
				tool = (t == 1) ? "avcat" : "ffmpeg"
				if (!((tool, n) in row)) continue
				split(row[tool, n], f, "\t")
				printf "%-7s %4s %6s %12s %20s %12.1f MiB %12.1f MiB %10s %8s\n", f[1], f[2], f[3], f[4], f[5], f[6] / 1024, f[7] / 1024, f[8], f[9]
			}
			if (("avcat", n) in row && ("ffmpeg", n) in row && cpu["ffmpeg", n] > 0 && rmax["ffmpeg", n] > 0) {
				printf "%-7s %4s %6s %12s %20.2f %16.2f %16.2f\n", "ratio", n, "", "", cpu["avcat", n] / cpu["ffmpeg", n], rmax["avcat", n] / rmax["ffmpeg", n], rsum["avcat", n] / rsum["ffmpeg", n]
			}
		}
		print "ratio = avcat / ffmpeg (below 1: avcat uses less)"
	}' "$results"
