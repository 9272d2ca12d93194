package interop_test

import (
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
	"github.com/avcat/avcat/internal/testpeer"
)

// node-media-server is an RTMP server: it has no RTSP server, so `push`
// (RTSP ANNOUNCE/RECORD) and RTSP reads cannot target it.

// TestNodeMediaRTMPPush publishes every input into node-media-server, which
// records it to FLV, and counts what it recorded.
func TestNodeMediaRTMPPush(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNodeMedia, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	for _, in := range pushInputs {
		t.Run(in.file, func(t *testing.T) {
			t.Parallel()
			n := testpeer.StartNodeMediaServer(t, testpeer.NodeMediaOptions{Record: true})
			pushInto(t, "rtmp-push", in, n.URL("live", "in"),
				func() string { return n.WaitRecordDone(t, "live", "in", 20*time.Second) }, n.URL("live", "in"))
		})
	}
}

// TestNodeMediaPull has ffmpeg publish a live stream into node-media-server
// and reads it back with pull, record and rtmp-pull.
func TestNodeMediaPull(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNodeMedia, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	n := testpeer.StartNodeMediaServer(t, testpeer.NodeMediaOptions{})
	testpeer.FFmpegPublishRTMP(t, media("h264_baseline_aac.mp4"), n.URL("live", "src"), true)
	testpeer.WaitRTMPStream(t, n.URL("live", "src"))
	runPulls(t, "", n.URL("live", "src"))
}

// TestNodeMediaReadsServe has node-media-server pull (its relay) from avcat
// serve over RTSP and RTMP, and checks what it then plays out.
func TestNodeMediaReadsServe(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNodeMedia, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	cases := []struct{ name, file, proto string }{
		{"mp4_rtsp", "h264_baseline_aac.mp4", "rtsp"},
		{"mp4_rtmp", "h264_baseline_aac.mp4", "rtmp"},
		{"bframes_rtsp", "h264_high_bframes_aac.mp4", "rtsp"},
		{"bframes_rtmp", "h264_high_bframes_aac.mp4", "rtmp"},
		{"ts_rtsp", "h264_aac.ts", "rtsp"},
	}
	var args []string
	for _, c := range cases {
		args = append(args, "--file", "live/"+c.name+"="+media(c.file))
	}
	srv := clitest.StartServe(t, args...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := srv.RTSP("live/" + c.name)
			if c.proto == "rtmp" {
				// node-media-server 4.4.3's RTMP relay registers its stream
				// only after the play promise resolves (a microtask), so
				// what came in the same socket read as NetStream.Play.Start
				// is dropped: onMetaData and both sequence headers, which a
				// server sends once, right after it (serve does).
				// Its players then get AVCC frames without an avcC.
				t.Skip("node-media-server 4.4.3's RTMP relay drops the sequence headers that arrive with NetStream.Play.Start")
			} else {
				// node-media-server 4.4.3's RTSP relay dies (TypeError at
				// rtsp_client_session.js:374, its broadcast is still null)
				// when RTP arrives in the same read as the PLAY response,
				// which any server may do; and it never sends the AAC
				// AudioSpecificConfig (it labels all AAC 44.1 kHz).
				t.Skip("node-media-server 4.4.3's RTSP relay crashes on RTP that follows PLAY's response at once")
			}
			n := testpeer.StartNodeMediaServer(t, testpeer.NodeMediaOptions{
				Relays: []testpeer.NodeMediaRelay{{URL: src, StreamPath: "/live/" + c.name}},
			})
			out := n.URL("live", c.name)
			testpeer.WaitRTMPStream(t, out)
			w := want{video: "h264", audio: true, minFrames: 2*fps - 5, maxFrames: 3*fps + 5}
			check(t, "node-media-server relay of "+src, out, w, liveArgs(out, 2)...)
		})
	}
}

// TestNodeMediaPublishesToServe has node-media-server push (its relay) a
// stream into avcat serve; node-media-server puts the stream key in tcUrl
// too, and players ask for the path app/stream.
func TestNodeMediaPublishesToServe(t *testing.T) {
	t.Parallel()
	testpeer.Require(t, testpeer.PeerNodeMedia, testpeer.PeerFFmpeg, testpeer.PeerFFprobe, testpeer.PeerTimeout)
	srv := clitest.StartServe(t)
	n := testpeer.StartNodeMediaServer(t, testpeer.NodeMediaOptions{
		Relays: []testpeer.NodeMediaRelay{{URL: srv.RTMP("live/src"), StreamPath: "/live/src", Mode: "push"}},
	})
	testpeer.FFmpegPublishRTMP(t, media("h264_baseline_aac.mp4"), n.URL("live", "src"), true)
	for _, url := range []string{srv.RTMP("live/src"), srv.RTSP("live/src")} {
		t.Run(url[:4], func(t *testing.T) {
			if url[:4] == "rtsp" {
				testpeer.WaitRTSPDescribe(t, url, nil, 30*time.Second)
			} else {
				testpeer.WaitRTMPStream(t, url)
			}
			// An RTSP reader joins mid-GOP and decodes from the next
			// keyframe (1 s GOPs; it joins just after one, as the RTMP read
			// before it ends on a GOP boundary): read 2 s more.
			secs := 2
			if url[:4] == "rtsp" {
				secs = 4
			}
			w := want{video: "h264", audio: true, minFrames: 2*fps - 5, maxFrames: (secs+1)*fps + 5}
			check(t, "avcat serve fed by node-media-server", url, w, liveArgs(url, secs)...)
		})
	}
}
