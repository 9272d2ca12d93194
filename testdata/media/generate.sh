#!/usr/bin/env bash
# Regenerates the test clips in testdata/media/ from ffmpeg's lavfi sources
# (testsrc2 video, sine audio). The outputs are committed so that unit tests
# need no ffmpeg; rerun this only when a clip must change, then update
# README.md from the ffprobe summary this script prints.
#
# Usage: bash testdata/media/generate.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

command -v ffmpeg >/dev/null || { echo "generate.sh: ffmpeg not found" >&2; exit 1; }

DUR=4
FPS=25
SIZE=640x480

# Common flags: quiet, overwrite, single-threaded and bit-exact so reruns
# reproduce the same bytes with the same ffmpeg build, no metadata.
common=(-hide_banner -loglevel error -nostdin -y -threads 1)
exact=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1)

video_src=(-f lavfi -i "testsrc2=size=${SIZE}:rate=${FPS}:duration=${DUR}")
audio_src=(-f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=${DUR}")

# Low bitrate keeps the folder small; testsrc2 compresses well.
vrate=(-b:v 150k -maxrate 200k -bufsize 400k)
arate=(-c:a aac -profile:a aac_low -ar 48000 -ac 2 -b:a 64k)

baseline=(-c:v libx264 -profile:v baseline -pix_fmt yuv420p -preset veryfast
  -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -x264-params threads=1)
high_bf=(-c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryfast
  -g 50 -keyint_min 50 -sc_threshold 0 -bf 2 -b_strategy 0 -x264-params threads=1)
hevc=(-c:v libx265 -tag:v hvc1 -pix_fmt yuv420p -preset veryfast
  -g 25 -keyint_min 25 -x265-params "log-level=error:pools=none:frame-threads=1:scenecut=0:open-gop=0")

enc() { # enc OUTPUT ARGS...
  local out=$1
  shift
  echo "generating ${out}" >&2
  ffmpeg "${common[@]}" "$@" "${exact[@]}" "${out}"
}

enc h264_baseline_aac.mp4 "${video_src[@]}" "${audio_src[@]}" \
  "${baseline[@]}" "${vrate[@]}" "${arate[@]}" -movflags +faststart

enc h264_high_bframes_aac.mp4 "${video_src[@]}" "${audio_src[@]}" \
  "${high_bf[@]}" "${vrate[@]}" "${arate[@]}" -movflags +faststart

# Same streams, moov after mdat: remux the faststart file so the content is
# identical and only the layout differs.
echo "generating h264_high_bframes_aac_nofaststart.mp4" >&2
ffmpeg "${common[@]}" -i h264_high_bframes_aac.mp4 -map 0 -c copy "${exact[@]}" \
  h264_high_bframes_aac_nofaststart.mp4

enc h265_aac.mp4 "${video_src[@]}" "${audio_src[@]}" \
  "${hevc[@]}" "${vrate[@]}" "${arate[@]}" -movflags +faststart

enc h264_baseline.h264 "${video_src[@]}" \
  "${baseline[@]}" "${vrate[@]}" -an -f h264

enc h264_aac.ts "${video_src[@]}" "${audio_src[@]}" \
  "${baseline[@]}" "${vrate[@]}" "${arate[@]}" -f mpegts

enc h264_aac.flv "${video_src[@]}" "${audio_src[@]}" \
  "${baseline[@]}" "${vrate[@]}" "${arate[@]}" -f flv

clips=(h264_baseline_aac.mp4 h264_high_bframes_aac.mp4 h264_high_bframes_aac_nofaststart.mp4
  h265_aac.mp4 h264_baseline.h264 h264_aac.ts h264_aac.flv)

echo >&2
echo "sizes:" >&2
for f in "${clips[@]}"; do
  printf '  %-40s %8d bytes\n' "$f" "$(stat -c %s "$f")" >&2
done
printf '  %-40s %8s\n' "total (du)" "$(du -sh . | cut -f1)" >&2

if command -v ffprobe >/dev/null; then
  echo >&2
  echo "ffprobe (counted frames):" >&2
  for f in "${clips[@]}"; do
    echo "  $f" >&2
    ffprobe -v error -count_frames \
      -show_entries stream=index,codec_name,profile,width,height,r_frame_rate,nb_read_frames,sample_rate,channels:format=duration \
      -of compact=p=0 "$f" | awk 'NF && !seen[$0]++ { print "    " $0 }' >&2
  done
fi
