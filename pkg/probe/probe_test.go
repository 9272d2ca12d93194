package probe

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// want is the part of a Stream a case asserts, field by field.
type want struct {
	Media, Codec         string
	PT                   int // -1: no payload type
	Clock                int
	Profile, Level, Tier string
	W, H                 int
	FPS                  float64
	Rate, Ch, Bits, AOT  int
	Source, Control      string
	Back                 bool
	Warn                 string // a substring of Warning; "" means no warning
}

func toWant(s Stream) want {
	pt := -1
	if s.PayloadType != nil {
		pt = int(*s.PayloadType)
	}
	return want{
		Media: s.MediaType, Codec: s.CodecName, PT: pt, Clock: s.ClockRate,
		Profile: s.Profile, Level: s.Level, Tier: s.Tier, W: s.Width, H: s.Height, FPS: s.FPS,
		Rate: s.SampleRate, Ch: s.Channels, Bits: s.BitsPerSample, AOT: s.AACObjectType,
		Source: s.Source, Control: s.Control, Back: s.BackChannel, Warn: s.Warning,
	}
}

// sdpCase is one SDP in testdata/sdp. The same table feeds the analysis
// test, the golden tests and the fuzz seeds.
type sdpCase struct {
	name string
	// parseErr is a substring of ParseSDP's error (gortsplib's strict
	// parse); empty when gortsplib accepts the SDP.
	parseErr string
	// lenientErr is a substring of StreamsFromSDP's error; empty when it
	// describes the streams.
	lenientErr string
	streams    []want
}

const hikCtl = "rtsp://192.168.1.64:554/Streaming/Channels/"
const axisCtl = "rtsp://192.168.0.90/axis-media/media.amp/stream="
const axisQuery = "?videocodec=h264&resolution=1280x720&audio=1"

var sdpCases = []sdpCase{
	{
		// Captured from GStreamer 1.22's rtsp-server (x264enc + voaacenc):
		// a=ts-refclk, a=mediaclk, a=ssrc, session-level a=control:*.
		name: "gstreamer_h264_aac",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "High", Level: "3.0", W: 640, H: 480, FPS: 25, Source: "sdp", Control: "stream=0"},
			{Media: "audio", Codec: "aac", PT: 97, Clock: 48000, Profile: "LC", Rate: 48000, Ch: 2, AOT: 2, Source: "sdp", Control: "stream=1"},
		},
	},
	{
		// Captured from GStreamer (x265enc on 4:4:4 input + opusenc).
		name: "gstreamer_h265_opus",
		streams: []want{
			{Media: "video", Codec: "hevc", PT: 96, Clock: 90000, Profile: "Rext", Level: "3.1", Tier: "Main", W: 1280, H: 720, FPS: 30, Source: "sdp", Control: "stream=0"},
			{Media: "audio", Codec: "opus", PT: 97, Clock: 48000, Rate: 48000, Ch: 2, Source: "sdp", Control: "stream=1"},
		},
	},
	{
		// Captured from GStreamer's rtpmp4apay: MP4A-LATM, cpresent=0.
		name: "gstreamer_latm",
		streams: []want{
			{Media: "audio", Codec: "aac_latm", PT: 96, Clock: 44100, Profile: "LC", Rate: 44100, Ch: 1, AOT: 2, Source: "sdp", Control: "stream=0"},
		},
	},
	{
		// ffmpeg -f rtp without global headers: no sprop-parameter-sets at
		// all; the AAC config carries an SBR sync extension (56E500) and
		// the fmtp has "; config" with a space.
		name: "ffmpeg_no_sprop",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000},
			{Media: "audio", Codec: "aac", PT: 97, Clock: 48000, Profile: "LC", Rate: 48000, Ch: 2, AOT: 2, Source: "sdp"},
		},
	},
	{
		// ffmpeg + libx265, 10-bit 4K: no a=control at all.
		name: "ffmpeg_h265_main10",
		streams: []want{
			{Media: "video", Codec: "hevc", PT: 96, Clock: 90000, Profile: "Main 10", Level: "5.0", Tier: "Main", W: 3840, H: 2160, FPS: 15, Source: "sdp"},
		},
	},
	{
		name: "ffmpeg_mpeg4",
		streams: []want{
			{Media: "video", Codec: "mpeg4", PT: 96, Clock: 90000, Profile: "Simple", Level: "1", Source: "sdp"},
		},
	},
	{
		// Hikvision main stream: absolute a=control URLs with a query,
		// e=NONE, session b= before t=, a=Media_header, PCMU on PT 0.
		name: "hikvision",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "Main", Level: "4.1", W: 1920, H: 1080, FPS: 25, Source: "sdp",
				Control: hikCtl + "101/trackID=1?transportmode=unicast"},
			{Media: "audio", Codec: "pcm_mulaw", PT: 0, Clock: 8000, Rate: 8000, Ch: 1, Bits: 8, Source: "sdp",
				Control: hikCtl + "101/trackID=2?transportmode=unicast"},
		},
	},
	{
		// Hikvision sub stream with the ONVIF metadata track. The SPS is
		// High 3.2 while profile-level-id claims 420029: the SPS wins.
		name: "hikvision_substream",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "High", Level: "3.2", W: 1280, H: 960, FPS: 25, Source: "sdp",
				Control: hikCtl + "102/trackID=1?transportmode=unicast"},
			{Media: "application", Codec: "vnd.onvif.metadata", PT: 107, Clock: 90000,
				Control: hikCtl + "102/trackID=4?transportmode=unicast"},
		},
	},
	{
		// Dahua: a=framerate with decimals, relative trackID controls, and
		// PCMA/16000 on static payload type 8, which gortsplib forces to
		// 8000 Hz.
		name: "dahua",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "High", Level: "3.0", W: 704, H: 576, FPS: 25, Source: "sdp", Control: "trackID=0"},
			{Media: "audio", Codec: "pcm_alaw", PT: 8, Clock: 16000, Rate: 16000, Ch: 1, Bits: 8, Source: "sdp", Control: "trackID=1",
				Warn: "rtpmap declares 16000 Hz, the RTSP stack assumes 8000 Hz"},
			{Media: "application", Codec: "vnd.onvif.metadata", PT: 107, Clock: 90000, Control: "trackID=4"},
		},
	},
	{
		// Axis (CRLF): absolute controls with "&" in the query,
		// mixed-case fmtp keys (sizeLength), trailing ";", AAC config=1190.
		name: "axis",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "Constrained Baseline", Level: "3.1", W: 1280, H: 720, FPS: 25, Source: "sdp",
				Control: axisCtl + "0" + axisQuery},
			{Media: "audio", Codec: "aac", PT: 97, Clock: 48000, Profile: "LC", Rate: 48000, Ch: 2, AOT: 2, Source: "sdp",
				Control: axisCtl + "1" + axisQuery},
		},
	},
	{
		// Three m= lines that all use payload type 96.
		name: "same_payload_type",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "High", Level: "5.0", W: 2560, H: 1440, FPS: 20, Source: "sdp", Control: "track1"},
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "Main", Level: "3.0", W: 640, H: 360, FPS: 29.97, Source: "sdp", Control: "track2"},
			{Media: "audio", Codec: "aac", PT: 96, Clock: 16000, Profile: "LC", Rate: 16000, Ch: 1, AOT: 2, Source: "sdp", Control: "track3"},
		},
	},
	{
		// gortsplib's origin parser is lenient: a user name with a space,
		// a decimal session id, "IPV4", an empty s=, and FLIR's t=now-.
		name: "origin_quirky",
		streams: []want{
			{Media: "video", Codec: "mjpeg", PT: 26, Clock: 90000, Control: "track1"},
		},
	},
	{
		// An o= line with no "IN IP4" at all is refused.
		name:       "origin_garbled",
		parseErr:   "invalid SDP: sdp: invalid syntax `o=Hipcam RealServer V1.0`",
		lenientErr: "invalid SDP: sdp: invalid syntax `o=Hipcam RealServer V1.0`",
	},
	{
		// gortsplib silently drops an SPS it cannot parse;
		// profile-level-id still gives profile and level.
		name: "h264_bad_sps",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "Main", Level: "4.0", Source: "sdp", Control: "track0",
				Warn: "bad SPS in sprop-parameter-sets: not enough bits"},
		},
	},
	{
		// An SPS without PPS (and without base64 padding): gortsplib
		// ignores the whole parameter, the probe still reads it.
		name: "h264_sps_without_pps",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 97, Clock: 90000, Profile: "Constrained Baseline", Level: "3.1", W: 1280, H: 720, FPS: 25, Source: "sdp", Control: "video",
				Warn: "sprop-parameter-sets has no PPS"},
		},
	},
	{
		// An H.265 SPS gortsplib cannot parse makes it refuse the whole
		// SDP; the lenient path still lists both tracks.
		name:     "h265_bad_sps",
		parseErr: "invalid SDP: media 1 is invalid: invalid SPS",
		streams: []want{
			{Media: "video", Codec: "hevc", PT: 98, Clock: 90000, Control: "trackID=1",
				Warn: "media 1 refused by the RTSP stack: invalid SPS"},
			{Media: "audio", Codec: "pcm_alaw", PT: 8, Clock: 8000, Rate: 8000, Ch: 1, Bits: 8, Source: "sdp", Control: "trackID=2"},
		},
	},
	{
		// Several formats per media; static payload types with and
		// without rtpmap; G.722's 8000 Hz clock for 16000 Hz audio.
		name: "misc_audio",
		streams: []want{
			{Media: "audio", Codec: "pcm_mulaw", PT: 0, Clock: 8000, Rate: 8000, Ch: 1, Bits: 8, Source: "sdp", Control: "audio0"},
			{Media: "audio", Codec: "pcm_alaw", PT: 8, Clock: 8000, Rate: 8000, Ch: 1, Bits: 8, Source: "sdp", Control: "audio0"},
			{Media: "audio", Codec: "adpcm_g722", PT: 9, Clock: 8000, Rate: 16000, Ch: 1, Source: "sdp", Control: "audio0"},
			{Media: "audio", Codec: "telephone-event", PT: 101, Clock: 8000, Control: "audio0"},
			{Media: "audio", Codec: "pcm_s16be", PT: 10, Clock: 44100, Rate: 44100, Ch: 2, Bits: 16, Source: "sdp", Control: "audio1"},
			{Media: "audio", Codec: "pcm_s16be", PT: 98, Clock: 16000, Rate: 16000, Ch: 1, Bits: 16, Source: "sdp", Control: "audio1"},
			{Media: "audio", Codec: "adpcm_g726le", PT: 99, Clock: 8000, Rate: 8000, Ch: 1, Bits: 4, Source: "sdp", Control: "audio1"},
			{Media: "audio", Codec: "pcm_s24be", PT: 100, Clock: 48000, Rate: 48000, Ch: 2, Bits: 24, Source: "sdp", Control: "audio1"},
			{Media: "audio", Codec: "mp3", PT: 14, Clock: 90000, Control: "audio2"},
			{Media: "audio", Codec: "opus", PT: 111, Clock: 48000, Rate: 48000, Ch: 1, Source: "sdp", Control: "audio2"},
		},
	},
	{
		// ONVIF back channel: a=sendonly.
		name: "onvif_backchannel",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "Constrained Baseline", Level: "3.1", W: 1280, H: 720, FPS: 25, Source: "sdp", Control: "trackID=1"},
			{Media: "audio", Codec: "pcm_mulaw", PT: 0, Clock: 8000, Rate: 8000, Ch: 1, Bits: 8, Source: "sdp", Control: "trackID=2"},
			{Media: "audio", Codec: "pcm_mulaw", PT: 0, Clock: 8000, Rate: 8000, Ch: 1, Bits: 8, Source: "sdp", Control: "trackID=3", Back: true},
		},
	},
	{
		// AV1 on Chrome's payload type 45 is not recognized by gortsplib
		// (it wants 96-127); the fmtp still gives profile and level. v5
		// knows KLV only by its RFC 6597 name, smpte336m, not "smtpe336m".
		name: "webrtc_codecs",
		streams: []want{
			{Media: "video", Codec: "av1", PT: 45, Clock: 90000, Profile: "Main", Level: "4.0", Tier: "Main", Source: "sdp", Control: "video",
				Warn: "the RTSP stack does not recognize this av1 format"},
			{Media: "video", Codec: "av1", PT: 96, Clock: 90000, Profile: "High", Level: "5.1", Tier: "High", Source: "sdp", Control: "video"},
			{Media: "video", Codec: "vp9", PT: 98, Clock: 90000, Profile: "Profile 2", Source: "sdp", Control: "video"},
			{Media: "video", Codec: "vp8", PT: 100, Clock: 90000, Control: "video"},
			{Media: "audio", Codec: "opus", PT: 111, Clock: 48000, Rate: 48000, Ch: 2, Source: "sdp", Control: "audio"},
			{Media: "application", Codec: "klv", PT: 107, Clock: 90000, Control: "klv",
				Warn: "the RTSP stack does not recognize this klv format"},
		},
	},
	{
		// AAC-LC 16 kHz mono (config=1408), HE-AAC with explicit SBR
		// (gortsplib takes the 24 kHz core rate as the clock), and a
		// track without config=, which gortsplib refuses.
		name:     "aac_variants",
		parseErr: "invalid SDP: media 3 is invalid: config is missing",
		streams: []want{
			{Media: "audio", Codec: "aac", PT: 96, Clock: 16000, Profile: "LC", Rate: 16000, Ch: 1, AOT: 2, Source: "sdp", Control: "lc"},
			{Media: "audio", Codec: "aac", PT: 97, Clock: 48000, Profile: "HE-AAC", Rate: 48000, Ch: 2, AOT: 5, Source: "sdp", Control: "he",
				Warn: "rtpmap declares 48000 Hz, the RTSP stack assumes 24000 Hz"},
			{Media: "audio", Codec: "aac", PT: 98, Clock: 44100, Rate: 44100, Ch: 2, Control: "noconfig",
				Warn: "media 3 refused by the RTSP stack: config is missing"},
		},
	},
	{
		// A camera that echoes credentials into a=control.
		name: "credentials_in_control",
		streams: []want{
			{Media: "video", Codec: "h264", PT: 96, Clock: 90000, Profile: "High", Level: "3.0", W: 704, H: 576, FPS: 25, Source: "sdp",
				Control: "rtsp://admin:hunter2@192.168.1.108:554/cam/realmonitor/trackID=0?channel=1&subtype=0&token=abc123"},
		},
	},
}

func readSDP(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sdp", name+".sdp"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSDPCasesCoverTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sdp", "*.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range sdpCases {
		names[c.name] = true
	}
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".sdp"); !names[n] {
			t.Errorf("%s has no entry in sdpCases", f)
		}
	}
}

func TestStreamsFromSDP(t *testing.T) {
	for _, c := range sdpCases {
		t.Run(c.name, func(t *testing.T) {
			raw := readSDP(t, c.name)

			_, err := ParseSDP(raw)
			switch {
			case c.parseErr == "" && err != nil:
				t.Fatalf("ParseSDP: %v", err)
			case c.parseErr != "" && (err == nil || !strings.Contains(err.Error(), c.parseErr)):
				t.Fatalf("ParseSDP error = %v, want %q", err, c.parseErr)
			}

			got, err := StreamsFromSDP(raw)
			if c.lenientErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.lenientErr) {
					t.Fatalf("StreamsFromSDP error = %v, want %q", err, c.lenientErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("StreamsFromSDP: %v", err)
			}
			if len(got) != len(c.streams) {
				t.Fatalf("%d streams, want %d: %+v", len(got), len(c.streams), got)
			}
			for i, s := range got {
				if s.Index != i {
					t.Errorf("stream %d has index %d", i, s.Index)
				}
				g, w := toWant(s), c.streams[i]
				if w.Warn == "" && g.Warn != "" || !strings.Contains(g.Warn, w.Warn) {
					t.Errorf("stream %d warning %q, want %q", i, g.Warn, w.Warn)
				}
				g.Warn, w.Warn = "", ""
				if g != w {
					t.Errorf("stream %d:\n got %+v\nwant %+v", i, g, w)
				}
				if s.CodecLongName == "" && codecLongNames[s.CodecName] != "" {
					t.Errorf("stream %d: no codec_long_name", i)
				}
			}
		})
	}
}

// StreamsFromSession (typed formats only) and StreamsFromSDP agree on
// every stream the latter has no warning for.
func TestStreamsFromSessionAgrees(t *testing.T) {
	for _, c := range sdpCases {
		if c.parseErr != "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			raw := readSDP(t, c.name)
			desc, err := ParseSDP(raw)
			if err != nil {
				t.Fatal(err)
			}
			typed := StreamsFromSession(desc)
			lenient, err := StreamsFromSDP(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(typed) != len(lenient) {
				t.Fatalf("%d vs %d streams", len(typed), len(lenient))
			}
			for i := range typed {
				if lenient[i].Warning != "" {
					continue
				}
				a, b := typed[i], lenient[i]
				a.RTPMap, b.RTPMap = "", "" // re-serialized by gortsplib vs raw
				if !reflect.DeepEqual(a, b) {
					t.Errorf("stream %d:\n typed   %+v\n lenient %+v", i, a, b)
				}
			}
		})
	}
}

func TestStreamsFromSessionNil(t *testing.T) {
	if s := StreamsFromSession(nil); s == nil || len(s) != 0 {
		t.Fatalf("got %v", s)
	}
}

// Hand-built formats with missing configs must not panic.
func TestStreamsFromSessionHandBuilt(t *testing.T) {
	desc, err := ParseSDP(readSDP(t, "ffmpeg_no_sprop"))
	if err != nil {
		t.Fatal(err)
	}
	desc.Medias[0].Formats = append(desc.Medias[0].Formats,
		&format.H264{PayloadTyp: 100, SPS: []byte{0x67, 0xff}},
		&format.MPEG4Audio{PayloadTyp: 101},
		&format.MPEG4AudioLATM{PayloadTyp: 102},
		nil)
	streams := StreamsFromSession(desc)
	if len(streams) != 6 {
		t.Fatalf("%d streams", len(streams))
	}
	if !strings.Contains(streams[1].Warning, "bad SPS") || streams[1].Width != 0 {
		t.Errorf("bad SPS: %+v", streams[1])
	}
	if streams[2].CodecName != "aac" || streams[3].CodecName != "aac_latm" || streams[4].CodecName != "unknown" {
		t.Errorf("%+v", streams[2:])
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, &Report{Streams: streams}); err != nil {
		t.Fatal(err)
	}
}

func report(t testing.TB, name string) *Report {
	raw := readSDP(t, name)
	streams, err := StreamsFromSDP(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{
		URL:      "rtsp://viewer:s3cret@127.0.0.1:8554/" + name,
		Protocol: "rtsp",
		Server:   "GStreamer RTSP server",
		Methods:  []string{"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"},
		SDP:      string(raw),
		Streams:  streams,
	}
	if desc, err := ParseSDP(raw); err == nil {
		r.Title = desc.Title
	}
	return r
}

func measuredReport(t testing.TB) *Report {
	r := report(t, "gstreamer_h264_aac")
	r.URL = "rtsp://127.0.0.1:8554/live"
	r.Play = &PlayInfo{Transport: "udp", DurationSeconds: 3.0021}
	r.Streams[0].Measured = &Measured{
		Packets: 312, Bytes: 451234, BitrateBps: 1203290.6, Frames: 75, FPS: 25.004,
		Keyframes: 3, GOPFrames: 25, PacketsLost: 2, LossPercent: 0.636, JitterMs: 0.4123,
		FirstPacketMs: 12.4, FirstKeyframeMs: 40.2,
	}
	r.Streams[1].Measured = &Measured{
		Packets: 141, Bytes: 17234, BitrateBps: 45957.3, Frames: 141, FPS: 46.9,
		JitterMs: math.NaN(), FirstPacketMs: 3.9, FirstKeyframeMs: -1,
	}
	return r
}

func rtmpReport(t testing.TB) *Report {
	desc, err := ParseSDP(readSDP(t, "gstreamer_h264_aac"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{
		URL:      "rtmp://127.0.0.1:1935/live/cam1?token=abcdef",
		Protocol: "rtmp",
		Metadata: map[string]any{
			"width": float64(640), "height": float64(480), "framerate": float64(25),
			"videocodecid": float64(7), "audiocodecid": float64(10), "audiosamplerate": float64(48000),
			"stereo": true, "encoder": "Lavf59.27.100", "duration": float64(0),
			"filesize": math.Inf(1),
			"custom":   map[string]any{"b": "x", "a": float64(1.5)},
		},
		Streams: StreamsFromSession(desc),
	}
	r.Streams[0].Measured = &Measured{
		Packets: 75, Bytes: 300000, BitrateBps: 800000, Frames: 75, FPS: 25, Keyframes: 3, GOPFrames: 25,
		FirstPacketMs: 120, FirstKeyframeMs: 120,
	}
	return r
}

// inBandReport: no SPS in the SDP, one learned while playing; the audio
// track never delivered a packet.
func inBandReport(t testing.TB) *Report {
	r := report(t, "ffmpeg_no_sprop")
	r.Play = &PlayInfo{Transport: "tcp", DurationSeconds: 5}
	sps, _ := base64.StdEncoding.DecodeString("Z01AKNkAeAIn5cBEAAADAAQAAAMAyDxgySA=")
	ApplySPS(&r.Streams[0], nil, sps)
	r.Streams[0].Measured = &Measured{
		Packets: 1200, Bytes: 1500000, BitrateBps: 2400000, Frames: 125, FPS: 25, Keyframes: 2, GOPFrames: 50,
		FirstPacketMs: 35, FirstKeyframeMs: 1960,
	}
	r.Streams[1].Measured = &Measured{FirstPacketMs: -1, FirstKeyframeMs: -1}
	return r
}

type golden struct {
	name string
	r    func(testing.TB) *Report
}

func goldens() []golden {
	var g []golden
	for _, c := range sdpCases {
		if c.lenientErr != "" {
			continue
		}
		name := c.name
		g = append(g, golden{name, func(t testing.TB) *Report { return report(t, name) }})
	}
	return append(g, golden{"measured", measuredReport}, golden{"rtmp_metadata", rtmpReport}, golden{"in_band", inBandReport})
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantB, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/probe -update)", err)
	}
	if !bytes.Equal(got, wantB) {
		t.Errorf("%s differs (go test ./pkg/probe -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, wantB)
	}
}

func TestGolden(t *testing.T) {
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			r := g.r(t)
			var txt, js bytes.Buffer
			if err := WriteText(&txt, r, false); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSON(&js, r); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", g.name+".txt"), txt.Bytes())
			checkGolden(t, filepath.Join("testdata", "golden", g.name+".json"), js.Bytes())

			for _, out := range []string{txt.String(), js.String()} {
				for _, secret := range []string{"s3cret", "hunter2", "abc123", "abcdef"} {
					if strings.Contains(out, secret) {
						t.Errorf("secret %q leaked:\n%s", secret, out)
					}
				}
			}
			if !json.Valid(js.Bytes()) || !strings.HasPrefix(js.String(), "{\n  \"schema_version\": 2,\n") || !strings.HasSuffix(js.String(), "}\n") {
				t.Errorf("JSON shape:\n%s", js.String())
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := measuredReport(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	m := back.Streams[1].Measured
	if m == nil || m.FirstKeyframeMs != -1 || m.FirstPacketMs != 3.9 || m.JitterMs != 0 {
		t.Errorf("audio measured %+v", m)
	}
	if back.Streams[0].Width != 640 || *back.Streams[1].PayloadType != 97 || back.Play.Transport != "udp" {
		t.Errorf("%+v", back)
	}
	// The report is not modified by rendering.
	if r.URL != "rtsp://127.0.0.1:8554/live" || !math.IsNaN(r.Streams[1].Measured.JitterMs) {
		t.Errorf("WriteJSON modified its input")
	}
}

func TestRTMPHasNoRTPFields(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rtmpReport(t)); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"payload_type"`, `"clock_rate"`, `"control"`, `"rtpmap"`, `"sdp"`} {
		if strings.Contains(buf.String(), key) {
			t.Errorf("RTMP JSON has %s", key)
		}
	}
	if !strings.Contains(buf.String(), `"source": "in-band"`) {
		t.Errorf("RTMP parameters not in-band:\n%s", buf.String())
	}
}

func TestColor(t *testing.T) {
	for _, on := range []bool{true, false} {
		var buf bytes.Buffer
		if err := WriteText(&buf, measuredReport(t), on); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "\x1b["); got != on {
			t.Errorf("colorOn=%v: ANSI escapes present=%v:\n%q", on, got, buf.String())
		}
		if on {
			plain := stripANSI(buf.String())
			var off bytes.Buffer
			_ = WriteText(&off, measuredReport(t), false)
			if plain != off.String() {
				t.Errorf("colored text differs from plain text beyond escapes:\n%s\n---\n%s", plain, off.String())
			}
		}
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Text from the peer cannot drive the terminal.
func TestWriteTextEscapes(t *testing.T) {
	r := &Report{
		URL: "rtsp://cam/x", Protocol: "rtsp",
		Server:   "evil\x1b]0;pwned\x07\x9b31m",
		Metadata: map[string]any{"k\x1b[2J": "v\r\n"},
		SDP:      "v=0\r\ns=\x1b[31mred\r\n",
		Streams:  []Stream{{MediaType: "video", CodecName: "h264\x1b[0m", Warning: "w\x00"}},
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, r, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, c := range out {
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 && c < 0xa0 {
			t.Fatalf("control character %q in output:\n%q", c, out)
		}
	}
	if !strings.Contains(out, `evil\x1b]0;pwned\x07\x9b31m`) {
		t.Errorf("server not escaped visibly:\n%s", out)
	}
}

func TestApplySPS(t *testing.T) {
	streams, err := StreamsFromSDP(readSDP(t, "ffmpeg_no_sprop"))
	if err != nil {
		t.Fatal(err)
	}
	sps, _ := base64.StdEncoding.DecodeString("Z01AKNkAeAIn5cBEAAADAAQAAAMAyDxgySA=")

	s := streams[0]
	ApplySPS(&s, &format.H264{}, append([]byte{0, 0, 0, 1}, sps...))
	if s.Width != 1920 || s.Height != 1080 || s.FPS != 25 || s.Profile != "Main" || s.Level != "4.0" ||
		s.Source != SourceInBand || s.Warning != "" {
		t.Errorf("in-band SPS: %+v", s)
	}

	s = streams[0]
	ApplySPS(&s, nil, []byte{0x67, 0x64})
	if s.Width != 0 || s.Source != "" || !strings.Contains(s.Warning, "bad in-band SPS") {
		t.Errorf("bad SPS: %+v", s)
	}

	// in-band differs from SDP: in-band wins, with a warning.
	hik, _ := StreamsFromSDP(readSDP(t, "hikvision"))
	s = hik[0]
	small, _ := base64.StdEncoding.DecodeString("Z0LAH9kAUAW7ARAAAAMAEAAAAwMg8YMkgA==")
	ApplySPS(&s, nil, small)
	if s.Width != 1280 || s.Height != 720 || !strings.Contains(s.Warning, "in-band SPS says 1280x720, the SDP said 1920x1080") {
		t.Errorf("changed SPS: %+v", s)
	}

	// audio streams and empty input are left alone
	a := streams[1]
	ApplySPS(&a, nil, sps)
	ApplySPS(nil, nil, sps)
	if !reflect.DeepEqual(a, streams[1]) {
		t.Errorf("audio stream changed: %+v", a)
	}

	// H.265 by format type
	h, _ := StreamsFromSDP(readSDP(t, "ffmpeg_h265_main10"))
	hs := Stream{CodecName: "hevc", MediaType: "video"}
	_, vsps, _ := mustFormat[*format.H265](t, "gstreamer_h265_opus").SafeParams()
	ApplySPS(&hs, &format.H265{}, vsps)
	if hs.Width != 1280 || hs.Profile != "Rext" || h[0].Width != 3840 {
		t.Errorf("h265: %+v", hs)
	}
}

func mustFormat[T format.Format](t *testing.T, name string) T {
	t.Helper()
	desc, err := ParseSDP(readSDP(t, name))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if v, ok := f.(T); ok {
				return v
			}
		}
	}
	t.Fatalf("no %T in %s", *new(T), name)
	return *new(T)
}

func TestApplyMetadata(t *testing.T) {
	streams := []Stream{{MediaType: "video", CodecName: "h264"}, {MediaType: "audio", CodecName: "aac"}}
	ApplyMetadata(streams, map[string]any{
		"width": float64(1280), "height": float64(720), "framerate": 29.97002997,
		"audiosamplerate": float64(44100), "stereo": false,
	})
	v, a := streams[0], streams[1]
	if v.Width != 1280 || v.Height != 720 || v.FPS != 29.97 || v.Source != SourceMetadata {
		t.Errorf("video %+v", v)
	}
	if a.SampleRate != 44100 || a.Channels != 1 || a.Source != SourceMetadata {
		t.Errorf("audio %+v", a)
	}
	// values from the stream itself win
	streams = []Stream{{MediaType: "video", Width: 640, Height: 480, Source: SourceInBand}}
	ApplyMetadata(streams, map[string]any{"width": float64(1), "height": float64(1)})
	if streams[0].Width != 640 || streams[0].Source != SourceInBand {
		t.Errorf("%+v", streams[0])
	}
	ApplyMetadata(streams, nil)
}

func TestProfileLevelNames(t *testing.T) {
	for _, c := range []struct {
		plid, profile, level string
	}{
		{"42001e", "Baseline", "3.0"},
		{"42e01f", "Constrained Baseline", "3.1"},
		{"42c00b", "Constrained Baseline", "1.1"},
		{"42d00b", "Constrained Baseline", "1b"},
		{"4d0028", "Main", "4.0"},
		{"4d100b", "Main", "1b"},
		{"580028", "Extended", "4.0"},
		{"640029", "High", "4.1"},
		{"640009", "High", "1b"},
		{"6e0028", "High 10", "4.0"},
		{"6e1028", "High 10 Intra", "4.0"},
		{"7a0028", "High 4:2:2", "4.0"},
		{"f40033", "High 4:4:4 Predictive", "5.1"},
		{"2c0028", "CAVLC 4:4:4", "4.0"},
		{"ff0028", "profile 255", "4.0"},
	} {
		p, l, ok := h264ProfileLevelID(c.plid)
		if !ok || p != c.profile || l != c.level {
			t.Errorf("%s: %q %q, want %q %q", c.plid, p, l, c.profile, c.level)
		}
	}
	for _, bad := range []string{"", "42", "zzzzzz", "4200001"} {
		if _, _, ok := h264ProfileLevelID(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	for idc, want := range map[uint8]string{30: "1.0", 60: "2.0", 63: "2.1", 90: "3.0", 93: "3.1", 120: "4.0", 123: "4.1", 150: "5.0", 153: "5.1", 156: "5.2", 186: "6.2"} {
		if got := h265LevelName(idc); got != want {
			t.Errorf("h265 level %d: %q, want %q", idc, got, want)
		}
	}
	var compat [32]bool
	compat[2] = true
	if got := h265ProfileName(0, compat); got != "Main 10" {
		t.Errorf("compat fallback: %q", got)
	}
}

func FuzzStreamsFromSDP(f *testing.F) {
	for _, c := range sdpCases {
		f.Add(readSDP(f, c.name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var streams []Stream
		if desc, err := ParseSDP(b); err == nil {
			streams = StreamsFromSession(desc)
			if desc == nil {
				t.Fatal("nil desc without error")
			}
		}
		lenient, err := StreamsFromSDP(b)
		if err == nil {
			streams = append(streams, lenient...)
		}
		for i := range streams {
			ApplySPS(&streams[i], nil, b)
		}
		r := &Report{URL: string(b), Protocol: "rtsp", SDP: string(b), Streams: streams}
		var buf bytes.Buffer
		if err := WriteText(&buf, r, true); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		if !json.Valid(buf.Bytes()) {
			t.Fatalf("invalid JSON:\n%s", buf.Bytes())
		}
	})
}

// docs/probe-json.md documents every key and shows the golden examples
// verbatim.
func TestJSONDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "probe-json.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(Report{}), reflect.TypeOf(Stream{}), reflect.TypeOf(PlayInfo{}), reflect.TypeOf(Measured{})} {
		for i := 0; i < typ.NumField(); i++ {
			key, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if key != "" && key != "-" && !bytes.Contains(doc, []byte("| `"+key+"` |")) {
				t.Errorf("docs/probe-json.md has no row for %q", key)
			}
		}
	}
	for _, g := range []string{"measured", "rtmp_metadata"} {
		js, err := os.ReadFile(filepath.Join("testdata", "golden", g+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, js) {
			t.Errorf("docs/probe-json.md does not show testdata/golden/%s.json verbatim: update its example", g)
		}
	}
}
