#!/usr/bin/env bash
# Regenerates sine.aac: 2 s of a 440 Hz sine, AAC-LC 48 kHz stereo, ADTS.
# ffprobe -count_packets: 95 frames.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ffmpeg -hide_banner -loglevel error -nostdin -y -threads 1 \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2" \
  -ac 2 -c:a aac -b:a 64k -fflags +bitexact -flags:a +bitexact -map_metadata -1 \
  -f adts sine.aac
