package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/media"
)

// avDesc is a fresh H.264 + Opus description, with formats of its own (as
// a reopened file or a reconnected camera has).
func avDesc() *description.Session {
	return &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{&format.Opus{PayloadTyp: 97, ChannelCount: 2}}},
	}}
}

// script is one iteration or connection: units on its own description.
type script struct {
	desc  *description.Session
	units []*media.Unit
	err   error         // Run's result
	done  chan struct{} // when set, closed after the units; Run then holds

	mu          sync.Mutex
	opened, ran Needs // what Open and Run were asked for
}

func (s *script) Open(ctx context.Context) (*description.Session, error) {
	s.mu.Lock()
	s.opened = NeedsFrom(ctx)
	s.mu.Unlock()
	return s.desc, nil
}

func (s *script) Run(ctx context.Context, emit func(*media.Unit)) error {
	s.mu.Lock()
	s.ran = NeedsFrom(ctx)
	s.mu.Unlock()
	for _, u := range s.units {
		emit(u)
	}
	if s.done != nil {
		close(s.done)
		<-ctx.Done()
	}
	return s.err
}

func (s *script) Close() error { return nil }

func (s *script) needs() (Needs, Needs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened, s.ran
}

// rtpUnit is a unit of track i of d, in one RTP packet.
func rtpUnit(d *description.Session, i int, pts int64, seq uint16, ts uint32, recv time.Time) *media.Unit {
	m := d.Medias[i]
	return &media.Unit{
		Media: m, Format: m.Formats[0], PTS: pts, DTS: pts, NoDTS: true, Received: recv,
		Packets: []*rtp.Packet{{Header: rtp.Header{Version: 2, PayloadType: m.Formats[0].PayloadType(), SequenceNumber: seq, Timestamp: ts}, Payload: []byte{1}}},
	}
}

// collector gathers what a wrapper emits, per track of ref.
type collector struct {
	ref    *description.Session
	mu     sync.Mutex
	tracks [2][]*media.Unit
	rtcp   []*media.Unit
}

func (c *collector) emit(t *testing.T) func(*media.Unit) {
	return func(u *media.Unit) {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := -1
		for k, m := range c.ref.Medias {
			if u.Format == m.Formats[0] && u.Media == m {
				i = k
			}
		}
		if i < 0 {
			t.Errorf("unit of %s on a format or media that is not the reference's", u.Format.Codec())
			return
		}
		if u.RTCP != nil {
			c.rtcp = append(c.rtcp, u)
			return
		}
		c.tracks[i] = append(c.tracks[i], u)
	}
}

// checkContinuous: RTP sequence numbers go up by one, and RTP timestamps
// stay at a fixed distance from the PTS, across iterations.
func checkContinuous(t *testing.T, name string, units []*media.Unit) {
	t.Helper()
	for k := 1; k < len(units); k++ {
		a, b := units[k-1].Packets[0], units[k].Packets[0]
		if b.SequenceNumber != a.SequenceNumber+1 {
			t.Fatalf("%s unit %d: RTP seq %d after %d", name, k, b.SequenceNumber, a.SequenceNumber)
		}
		if int64(b.Timestamp)-units[k].PTS != int64(a.Timestamp)-units[k-1].PTS {
			t.Fatalf("%s unit %d: RTP timestamp %d for PTS %d does not follow %d for %d", name, k, b.Timestamp, units[k].PTS, a.Timestamp, units[k-1].PTS)
		}
		if units[k].DTS != units[k].PTS {
			t.Fatalf("%s unit %d: DTS %d, PTS %d", name, k, units[k].DTS, units[k].PTS)
		}
	}
}

// replay is one iteration of a file: 5 video frames at 25 fps, 10 Opus
// frames of 1024 samples (the longest track), the same numbers each time.
func replay() *script {
	d := avDesc()
	s := &script{desc: d}
	for i := range 10 {
		if i < 5 {
			s.units = append(s.units, rtpUnit(d, 0, int64(i*3600), uint16(1000+i), uint32(5000+i*3600), time.Time{}))
		}
		s.units = append(s.units, rtpUnit(d, 1, int64(i*1024), uint16(200+i), uint32(7000+i*1024), time.Time{}))
	}
	return s
}

func TestLoopTimelineAcrossIterations(t *testing.T) {
	var first *script
	l := &Loop{Count: 3, New: func() Source {
		s := replay()
		if first == nil {
			first = s
		}
		return s
	}}
	desc, err := l.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{ref: desc}
	if err := l.Run(context.Background(), c.emit(t)); err != nil {
		t.Fatal(err)
	}
	v, a := c.tracks[0], c.tracks[1]
	if len(v) != 15 || len(a) != 30 {
		t.Fatalf("%d video and %d audio units, want 15 and 30", len(v), len(a))
	}
	// Both tracks move by the audio's end (10240/48000 s) per iteration.
	for k, u := range v {
		if want := int64(k/5)*19200 + int64(k%5)*3600; u.PTS != want {
			t.Fatalf("video unit %d: PTS %d, want %d", k, u.PTS, want)
		}
	}
	for k, u := range a {
		if want := int64(k/10)*10240 + int64(k%10)*1024; u.PTS != want {
			t.Fatalf("audio unit %d: PTS %d, want %d", k, u.PTS, want)
		}
	}
	checkContinuous(t, "video", v)
	checkContinuous(t, "audio", a)
	// The first iteration passes its units themselves.
	if v[0] != first.units[0] || a[0] != first.units[1] {
		t.Fatal("the first iteration's units were copied")
	}
}

func TestLoopOnto(t *testing.T) {
	onto := avDesc()
	l := &Loop{Count: 2, New: func() Source { return replay() }, Onto: onto}
	desc, err := l.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if desc != onto {
		t.Fatal("Open did not return Onto")
	}
	c := &collector{ref: onto}
	if err := l.Run(context.Background(), c.emit(t)); err != nil {
		t.Fatal(err)
	}
	if len(c.tracks[0]) != 10 || len(c.tracks[1]) != 20 {
		t.Fatalf("%d video and %d audio units, want 10 and 20", len(c.tracks[0]), len(c.tracks[1]))
	}
	checkContinuous(t, "video", c.tracks[0])

	swapped := avDesc()
	swapped.Medias[0], swapped.Medias[1] = swapped.Medias[1], swapped.Medias[0]
	l = &Loop{New: func() Source { return replay() }, Onto: swapped}
	if _, err := l.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "track 1 is H264 instead of Opus") {
		t.Fatalf("a file that does not fit Onto opened: %v", err)
	}
	l.Close()
}

// TestRetrySourceTimeline: a reconnection continues each track after its
// last unit by the wall time between them, keeps RTP continuous, keeps
// B-frames and RTCP, and refuses a connection with other codecs.
func TestRetrySourceTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c0 := &script{desc: avDesc()}
	for i := range 5 {
		c0.units = append(c0.units,
			rtpUnit(c0.desc, 0, int64(i*3600), uint16(100+i), uint32(1000+i*3600), t0.Add(time.Duration(i)*40*time.Millisecond)),
			rtpUnit(c0.desc, 1, int64(i*1920), uint16(60000+i), uint32(9+i*1920), t0.Add(time.Duration(i)*40*time.Millisecond)))
	}
	// The camera comes back 2 s after the last unit, with a new timeline,
	// an RTCP packet first and B-frames (PTS out of order).
	c1 := &script{desc: avDesc()}
	m := c1.desc.Medias[0]
	c1.units = append(c1.units, &media.Unit{Media: m, Format: m.Formats[0], Received: t0, RTCP: []byte{0x80, 200, 0, 6}})
	back := t0.Add(160*time.Millisecond + 2*time.Second)
	for i, p := range []int64{0, 3, 1, 2, 6, 4, 5} {
		c1.units = append(c1.units, rtpUnit(c1.desc, 0, p*3600, uint16(9000+i), uint32(777777+p*3600), back.Add(time.Duration(i)*40*time.Millisecond)))
	}
	c1.units = append(c1.units, rtpUnit(c1.desc, 1, 0, 3, 42, back))
	// Then with the tracks the other way round (refused), then again.
	c2 := &script{desc: avDesc()}
	c2.desc.Medias[0], c2.desc.Medias[1] = c2.desc.Medias[1], c2.desc.Medias[0]
	c3 := &script{desc: avDesc(), done: make(chan struct{})}
	c3.units = append(c3.units, rtpUnit(c3.desc, 0, 0, 5, 5, time.Time{}))
	conns := []*script{c0, c1, c2, c3}

	var mu sync.Mutex
	var downs []string
	var ups []int // media units emitted when each reconnection came up
	var c *collector
	r := &RetrySource{
		New: func() Source {
			mu.Lock()
			defer mu.Unlock()
			s := conns[0]
			conns = conns[1:]
			return s
		},
		Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond},
		OnEvent: func(s EndpointState, err error) {
			if s == StateUp {
				c.mu.Lock()
				ups = append(ups, len(c.tracks[0])+len(c.tracks[1])+len(c.rtcp))
				c.mu.Unlock()
			}
			if s == StateDown {
				mu.Lock()
				downs = append(downs, err.Error())
				mu.Unlock()
			}
		},
	}
	desc, err := r.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c = &collector{ref: desc}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, c.emit(t)) }()
	select {
	case <-c3.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the last connection was never made")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	v, a := c.tracks[0], c.tracks[1]
	if len(v) != 5+7+1 || len(a) != 5+1 || len(c.rtcp) != 1 {
		t.Fatalf("%d video, %d audio and %d RTCP units; want 13, 6 and 1", len(v), len(a), len(c.rtcp))
	}
	if v[0] != c0.units[0] || a[0] != c0.units[1] {
		t.Fatal("the first connection's units were copied")
	}
	checkContinuous(t, "video", v)
	checkContinuous(t, "audio", a)
	if want := int64(4*3600 + 2*90000); v[5].PTS != want {
		t.Fatalf("the new connection's first frame at PTS %d, want %d (after the last one by the 2 s that passed)", v[5].PTS, want)
	}
	for k, p := range []int64{0, 3, 1, 2, 6, 4, 5} {
		if v[5+k].PTS != v[5].PTS+p*3600 {
			t.Fatalf("B-frame order lost: unit %d PTS %d", 5+k, v[5+k].PTS)
		}
	}
	if a[5].PTS <= a[4].PTS || v[12].PTS <= v[9].PTS {
		t.Fatalf("a track went back: audio %d after %d, video %d after %d", a[5].PTS, a[4].PTS, v[12].PTS, v[9].PTS)
	}
	if r.Reconnects() != 2 {
		t.Fatalf("%d reconnects, want 2", r.Reconnects())
	}
	mu.Lock()
	defer mu.Unlock()
	// StateUp comes between the connections' units (record starts a new
	// file there).
	if len(ups) != 2 || ups[0] != 10 || ups[1] != 10+9 {
		t.Fatalf("StateUp after %v units; want after 10 and 19", ups)
	}
	if len(downs) != 3 || !strings.Contains(downs[2], "the source came back with track 1 is Opus instead of H264") {
		t.Fatalf("down events %q; want the ends of two connections and the refused one", downs)
	}
}

// TestNeedsThroughWrappers: every wrapper hands the source, on each of
// its openings and runs, the needs its caller's context carries.
func TestNeedsThroughWrappers(t *testing.T) {
	const want = NeedPackets | NeedRTCP
	cases := map[string]func(New func() Source) Source{
		"Loop":   func(New func() Source) Source { return &Loop{New: New, Count: 2} },
		"Paced":  func(New func() Source) Source { return &Paced{Source: New(), Speed: 1000} },
		"Select": func(New func() Source) Source { return &Select{Source: New(), Selection: Selection{VideoOnly: true}} },
		"RetrySource": func(New func() Source) Source {
			return &RetrySource{New: New, Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond}}
		},
	}
	for name, wrap := range cases {
		t.Run(name, func(t *testing.T) {
			var made []*script
			var mu sync.Mutex
			again := make(chan struct{}) // closed once a reconnection ran
			src := wrap(func() Source {
				mu.Lock()
				defer mu.Unlock()
				s := replay()
				if len(made) == 1 && name == "RetrySource" {
					s.done = again // the reconnection holds
				}
				made = append(made, s)
				return s
			})
			ctx, cancel := context.WithCancel(WithNeeds(context.Background(), want))
			defer cancel()
			if _, err := src.Open(ctx); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, func(*media.Unit) {}) }()
			if name == "RetrySource" {
				<-again
				cancel()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if name == "Loop" || name == "RetrySource" {
				if len(made) != 2 {
					t.Fatalf("%d sources opened, want 2", len(made))
				}
			}
			for i, s := range made {
				if o, r := s.needs(); o != want || r != want {
					t.Fatalf("source %d saw needs %b on Open and %b on Run, want %b", i, o, r, want)
				}
			}
		})
	}
}
