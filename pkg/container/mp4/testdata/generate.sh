#!/usr/bin/env bash
# Regenerates the small clips the MP4 demuxer tests need beyond the shared
# ones in testdata/media/: codecs those clips lack (Opus, G.711 in MOV) and
# a codec the demuxer does not support (MPEG-4 Part 2 video). The outputs
# are committed so that tests need no ffmpeg.
#
# Usage: bash pkg/container/mp4/testdata/generate.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

command -v ffmpeg >/dev/null || { echo "generate.sh: ffmpeg not found" >&2; exit 1; }

common=(-hide_banner -loglevel error -nostdin -y -threads 1)
exact=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1)

sine=(-f lavfi -i "sine=frequency=440:duration=1")
video=(-f lavfi -i "testsrc2=size=160x120:rate=25:duration=1")

enc() { # enc OUTPUT ARGS...
  local out=$1
  shift
  echo "generating ${out}" >&2
  ffmpeg "${common[@]}" "$@" "${exact[@]}" "${out}"
}

# Opus in MP4: 48 kHz mono, 20 ms packets; ffmpeg writes an edit list for
# the 312-sample pre-skip.
enc opus.mp4 "${sine[@]}" -c:a libopus -ar 48000 -ac 1 -b:a 32k

# G.711 in QuickTime: one byte (mono) or two (stereo) per sample, one
# chunk, stts delta 1.
enc ulaw.mov "${sine[@]}" -c:a pcm_mulaw -ar 8000 -ac 1
enc alaw_stereo.mov "${sine[@]}" -c:a pcm_alaw -ar 8000 -ac 2

# B-frames with ctts version 1 and negative composition offsets (no edit
# list shift): DTS must be lowered so that PTS >= DTS.
enc h264_negcts.mp4 "${video[@]}" -c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryfast \
  -g 25 -keyint_min 25 -sc_threshold 0 -bf 2 -b_strategy 0 -x264-params threads=1 \
  -movflags +negative_cts_offsets

# Only an unsupported codec (mp4v), and the same next to a supported one.
enc only_mpeg4.mp4 "${video[@]}" -c:v mpeg4 -q:v 20
enc mpeg4_aac.mp4 "${video[@]}" "${sine[@]}" -c:v mpeg4 -q:v 20 -c:a aac -ar 48000 -ac 1 -b:a 32k

# Fragmented MP4 (moof): not supported; Open must say so.
echo "generating opus_fragmented.mp4" >&2
ffmpeg "${common[@]}" -i opus.mp4 -c copy -movflags frag_keyframe+empty_moov "${exact[@]}" opus_fragmented.mp4

for f in opus.mp4 ulaw.mov alaw_stereo.mov h264_negcts.mp4 only_mpeg4.mp4 mpeg4_aac.mp4 opus_fragmented.mp4; do
  printf '  %-20s %6d bytes  ' "$f" "$(stat -c %s "$f")" >&2
  ffprobe -v error -count_packets -show_entries stream=codec_tag_string,nb_read_packets \
    -of compact=p=0 "$f" | tr '\n' ' ' >&2
  echo >&2
done
