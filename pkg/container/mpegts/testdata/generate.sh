#!/usr/bin/env bash
# Regenerates multi.ts: 1 s of H.265 (GOP 10, no B-frames) and MPEG-2 video
# (which the demuxer skips), with MP2, AC-3 and Opus audio. The main clips
# live in testdata/media at the top of the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1 \
  -f lavfi -i "testsrc2=size=160x120:rate=25:duration=1" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" \
  -map 0:v -map 0:v -map 1:a -map 1:a -map 1:a \
  -c:v:0 libx265 -pix_fmt yuv420p -preset veryfast -g 10 -keyint_min 10 -b:v:0 50k \
  -x265-params "log-level=error:pools=none:frame-threads=1:scenecut=0:open-gop=0:bframes=0" \
  -c:v:1 mpeg2video -qscale:v:1 31 -g 10 \
  -c:a:0 mp2 -b:a:0 32k -c:a:1 ac3 -b:a:1 32k -c:a:2 libopus -b:a:2 16k -ac 2 \
  -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 \
  -f mpegts multi.ts
ffprobe -v error -count_packets -show_entries stream=index,codec_name,nb_read_packets -of csv multi.ts >&2

# mpeg2.ts: MPEG-2 video only, which the demuxer does not support.
ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1 \
  -f lavfi -i "testsrc2=size=160x120:rate=25:duration=0.2" \
  -c:v mpeg2video -qscale:v 31 -fflags +bitexact -flags:v +bitexact -map_metadata -1 \
  -f mpegts mpeg2.ts
