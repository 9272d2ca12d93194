package progress

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"time"

	"github.com/avcat/avcat/pkg/iostreams"
	"github.com/avcat/avcat/pkg/server"
)

// ServerStatus follows a running server (serve): a live line on a
// terminal, a "stats" event every Interval, and the path table on demand.
type ServerStatus struct {
	IO *iostreams.IOStreams
	// JSON receives the "stats" events when set.
	JSON     *JSONWriter
	Interval time.Duration

	started time.Time
	shown   bool
	lastIn  uint64
}

// Follow updates once a second until ctx ends, and prints the path table
// on stderr on each value of dump (SIGUSR1). It clears the line at the end.
func (s *ServerStatus) Follow(ctx context.Context, stats func() []server.PathStats, dump <-chan os.Signal) {
	s.started = time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastStats := time.Now()
	for {
		select {
		case <-ctx.Done():
			s.clear()
			return
		case <-dump:
			s.clear()
			PathTable(s.IO.ErrOut, stats())
		case <-tick.C:
			st := stats()
			s.update(st)
			if s.JSON != nil && time.Since(lastStats) >= s.Interval {
				lastStats = time.Now()
				s.JSON.Event("stats", map[string]any{"paths": st})
			}
		}
	}
}

func (s *ServerStatus) update(stats []server.PathStats) {
	var in, dropped uint64
	live, readers := 0, 0
	for _, p := range stats {
		in += p.BytesIn
		dropped += p.Dropped
		readers += p.Readers
		if p.Kind == "live" {
			live++
		}
	}
	rate := float64(in-s.lastIn) * 8
	s.lastIn = in
	if !s.IO.IsStderrTTY() {
		return
	}
	fmt.Fprintf(s.IO.ErrOut, "\r\x1b[K%s  paths %d  publishers %d  readers %d  in %.0f kbit/s  dropped %d",
		time.Since(s.started).Truncate(time.Second), len(stats), live, readers, rate/1000, dropped)
	s.shown = true
}

func (s *ServerStatus) clear() {
	if s.shown {
		fmt.Fprint(s.IO.ErrOut, "\r\x1b[K")
		s.shown = false
	}
}

// PathTable writes one line per path.
func PathTable(w io.Writer, stats []server.PathStats) {
	fmt.Fprintf(w, "%-20s %-5s %-9s %-20s %7s %12s %8s\n", "PATH", "KIND", "PROTOCOL", "TRACKS", "READERS", "BYTES IN", "DROPPED")
	for _, p := range stats {
		fmt.Fprintf(w, "%-20s %-5s %-9s %-20s %7d %12d %8d\n", p.Path, p.Kind, p.Protocol, p.Tracks, p.Readers, p.BytesIn, p.Dropped)
	}
}

// ServerBanner tells on stderr where srv listens, what it serves, and how
// to try it.
func ServerBanner(ios *iostreams.IOStreams, srv *server.Server, cfg *server.Config, rtpPort int) {
	w := ios.ErrOut
	bold := ios.Paint(1)
	host := "127.0.0.1"
	rtspPort := portOf(srv.RTSPAddr())
	scheme, rtmpScheme := "rtsp", "rtmp"
	if cfg.TLSConfig != nil {
		scheme, rtmpScheme = "rtsps", "rtmps"
	}
	fmt.Fprintf(w, "%s RTSP listening on %s", bold.Sprint("avcat serve:"), srv.RTSPAddr())
	if cfg.UDPRTPAddress != "" {
		udp := "UDP"
		if cfg.TLSConfig != nil {
			udp = "SRTP over UDP"
		}
		fmt.Fprintf(w, " (%s %d/%d)", udp, rtpPort, rtpPort+1)
	}
	fmt.Fprintln(w, "; HTTP and WebSocket tunnels on the same port")
	if a := srv.RTMPAddr(); a != nil {
		fmt.Fprintf(w, "%s RTMP listening on %s\n", bold.Sprint("avcat serve:"), a)
	}
	names := make([]string, 0, len(cfg.Files))
	for n := range cfg.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s  %s://%s:%s/%s", cfg.Files[n].Name, scheme, host, rtspPort, n)
		if a := srv.RTMPAddr(); a != nil {
			fmt.Fprintf(w, "  %s://%s:%s/%s", rtmpScheme, host, portOf(a), n)
		}
		fmt.Fprintln(w)
	}
	if len(names) > 0 {
		first := fmt.Sprintf("%s://%s:%s/%s", scheme, host, rtspPort, names[0])
		fmt.Fprintf(w, "Try:\n  ffplay %s\n  avcat probe %s\n", first, first)
	}
	fmt.Fprintf(w, "  ffmpeg -re -i input.mp4 -c copy -f rtsp %s://%s:%s/mystream\n", scheme, host, rtspPort)
	if a := srv.RTMPAddr(); a != nil {
		fmt.Fprintf(w, "  ffmpeg -re -i input.mp4 -c copy -f flv %s://%s:%s/live/mystream\n", rtmpScheme, host, portOf(a))
	}
}

func portOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
}
