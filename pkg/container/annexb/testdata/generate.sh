#!/usr/bin/env bash
# Regenerates h265_320x240.h265: 1 s of testsrc2, H.265 Main 320x240 25 fps,
# a keyframe every 10 frames, no B-frames, raw Annex-B.
# ffprobe -count_packets: 25 packets, 3 keyframes.
# The H.264 clip is testdata/media/h264_baseline.h264 at the top of the repo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1 \
  -f lavfi -i "testsrc2=size=320x240:rate=25:duration=1" \
  -c:v libx265 -pix_fmt yuv420p -preset veryfast -g 10 -keyint_min 10 -b:v 100k \
  -x265-params "log-level=error:pools=none:frame-threads=1:scenecut=0:open-gop=0:bframes=0" \
  -fflags +bitexact -flags:v +bitexact -map_metadata -1 \
  -f hevc h265_320x240.h265
