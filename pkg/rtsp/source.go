package rtsp

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/gortsplib/v5/pkg/rtptime"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
	"github.com/avcat/avcat/pkg/mediaurl"
)

// Transports accepted by --transport.
var Transports = []string{"auto", "udp", "tcp", "multicast"}

// ParseTransport maps --transport to gortsplib's setting; auto is nil
// (UDP first, then TCP).
func ParseTransport(s string) (*gortsplib.Protocol, error) {
	var t gortsplib.Protocol
	switch strings.ToLower(s) {
	case "", "auto":
		return nil, nil
	case "udp":
		t = gortsplib.ProtocolUDP
	case "tcp":
		t = gortsplib.ProtocolTCP
	case "multicast":
		t = gortsplib.ProtocolUDPMulticast
	default:
		return nil, fault.New(fault.Usage, "unknown transport %q (want auto, udp, tcp or multicast)", s)
	}
	return &t, nil
}

// Source plays an RTSP URL: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN.
type Source struct {
	Config
	// Start asks the server to begin at this offset (Range: npt=START-).
	Start time.Duration
	// ReadBatch gathers the reads once the stream plays (TCP only; see
	// netio.Conn.SetReadBatch); 0 reads as data comes.
	ReadBatch time.Duration

	client   *gortsplib.Client
	base     *base.URL
	desc     *description.Session
	options  *base.Response
	describe *base.Response
	rawSDP   []byte
	rawMu    sync.Mutex
	decode   bool
	rtcp     bool
}

// OptionsResponse is the server's answer to OPTIONS, if it gave one.
func (s *Source) OptionsResponse() *base.Response { return s.options }

// DescribeResponse is the server's answer to DESCRIBE.
func (s *Source) DescribeResponse() *base.Response { return s.describe }

// Open connects, sends OPTIONS and DESCRIBE, and returns the description.
func (s *Source) Open(ctx context.Context) (*description.Session, error) {
	s.defaults()
	if err := s.prepare(); err != nil {
		return nil, err
	}
	bu, err := s.baseURL()
	if err != nil {
		return nil, err
	}
	s.base = bu
	tr, err := ParseTransport(s.Transport)
	if err != nil {
		return nil, err
	}
	s.client = s.newClient(tr, s.noteSDP)
	if err := s.client.Start(); err != nil {
		return nil, s.fail(err)
	}

	stop := context.AfterFunc(ctx, s.client.Close)
	defer stop()

	res, err := s.client.Options(bu)
	if err != nil {
		if !isNonAuthStatus(err) || ctx.Err() != nil {
			s.client.Close()
			return nil, s.ctxErr(ctx, err)
		}
		s.Logger.Debugf("OPTIONS failed (%v); trying DESCRIBE anyway", err)
	}
	s.options = res

	desc, res, err := s.describe503(ctx, bu)
	if err != nil {
		s.client.Close()
		if len(s.RawSDP()) > 0 && ctx.Err() == nil {
			return nil, fault.New(fault.Unsupported, "cannot use the SDP of %s: %v", mediaurl.RedactURL(s.URL), err)
		}
		return nil, s.ctxErr(ctx, err)
	}
	s.describe = res
	s.desc = desc
	if len(desc.Medias) == 0 {
		s.client.Close()
		return nil, fault.New(fault.Unsupported, "the SDP of %s has no media", mediaurl.RedactURL(s.URL))
	}
	return desc, nil
}

// describe503 sends DESCRIBE, retrying briefly while the server answers
// 503: servers such as GstRtspServer say so while a shared media is still
// being torn down after the previous client.
func (s *Source) describe503(ctx context.Context, u *base.URL) (*description.Session, *base.Response, error) {
	deadline := time.Now().Add(s.Timeout)
	backoff := 50 * time.Millisecond
	for {
		desc, res, err := s.client.Describe(u)
		var bad liberrors.ErrClientBadStatusCode
		if err == nil || !errors.As(err, &bad) || bad.Code != base.StatusServiceUnavailable ||
			time.Now().Add(backoff).After(deadline) {
			return desc, res, err
		}
		s.Logger.Debugf("DESCRIBE: 503 Service Unavailable, retrying in %s", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (s *Source) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return s.fail(err)
}

// Description is the SDP as parsed after Open.
func (s *Source) Description() *description.Session { return s.desc }

// anyPacketTimed times every packet, not only those whose PTS equals DTS.
type anyPacketTimed struct{ format.Format }

func (anyPacketTimed) PTSEqualsDTS(*rtp.Packet) bool { return true }

// trackState is per-format depacketizing state, owned by one reader goroutine.
type trackState struct {
	medi    *description.Media
	forma   format.Format
	depkt   *media.Depacketizer
	pending []*rtp.Packet
	// timed keys the packet-mode timing; built once, as boxing it per
	// packet would allocate.
	timed rtptime.GlobalDecoderTrack
}

// Run sets up every track, plays, and delivers units until ctx is done or
// the connection fails.
func (s *Source) Run(ctx context.Context, emit func(*media.Unit)) error {
	if s.client == nil {
		return errors.New("rtsp source not open")
	}
	stop := context.AfterFunc(ctx, s.client.Close)
	defer stop()
	// What the sinks need: access units (else RTP packets only), RTCP.
	needs := engine.NeedsFrom(ctx)
	s.decode, s.rtcp = needs&engine.NeedAccessUnits != 0, needs&engine.NeedRTCP != 0

	if err := s.client.SetupAll(s.desc.BaseURL, s.desc.Medias); err != nil {
		return s.ctxErr(ctx, err)
	}
	states := make(map[format.Format]*trackState)
	for _, m := range s.desc.Medias {
		for _, f := range m.Formats {
			st := &trackState{medi: m, forma: f, timed: anyPacketTimed{f}}
			if s.decode {
				d, err := media.NewDepacketizer(f)
				if err != nil {
					s.Logger.Warnf("cannot decode %s track: %v", f.Codec(), err)
				}
				st.depkt = d
			}
			states[f] = st
		}
	}

	var gotMedia atomic.Bool
	// Packets are timed from their arrival, not from the first keyframe as
	// gortsplib's decoder does: a dump keeps what came before it.
	packetTimes := &rtptime.GlobalDecoder{}
	packetTimes.Initialize()
	s.client.OnPacketRTPAny(func(medi *description.Media, forma format.Format, pkt *rtp.Packet) {
		gotMedia.Store(true)
		st := states[forma]
		if st == nil {
			return
		}
		now := time.Now()
		ntp, _ := s.client.PacketNTP(medi, pkt)
		if st.depkt == nil {
			pts, _ := packetTimes.Decode(st.timed, pkt)
			emit(&media.Unit{Media: medi, Format: forma, PTS: pts, DTS: pts, NoDTS: true, NTP: ntp, Received: now, Packets: []*rtp.Packet{pkt}})
			return
		}
		pts, ok := s.client.PacketPTS(medi, pkt)
		if !ok {
			return
		}
		st.pending = append(st.pending, pkt)
		au, err := st.depkt.Decode(pkt)
		if err != nil {
			if !errors.Is(err, media.ErrNeedMore) {
				s.Logger.Limited("depacketize", "%s: %v", forma.Codec(), err)
				st.pending = st.pending[:0]
			}
			return
		}
		pkts := st.pending
		st.pending = nil
		emit(&media.Unit{
			Media: medi, Format: forma, PTS: pts, DTS: pts, NoDTS: true, NTP: ntp, Received: now,
			Packets: pkts, Payload: au, Key: media.IsRandomAccess(forma, au),
		})
	})

	// A server ends a finite stream with an RTCP BYE on every track.
	var byeMu sync.Mutex
	byes := make(map[*description.Media]bool)
	var ended atomic.Bool
	s.client.OnPacketRTCPAny(func(medi *description.Media, pkt rtcp.Packet) {
		if s.rtcp {
			if b, err := pkt.Marshal(); err == nil {
				emit(&media.Unit{Media: medi, Format: medi.Formats[0], Received: time.Now(), RTCP: b})
			}
		}
		if _, ok := pkt.(*rtcp.Goodbye); !ok {
			return
		}
		byeMu.Lock()
		byes[medi] = true
		all := len(byes) == len(s.desc.Medias)
		byeMu.Unlock()
		s.Logger.Debugf("< RTCP BYE on %s", medi.Type)
		if all && ended.CompareAndSwap(false, true) {
			go s.client.Close()
		}
	})

	var ra *headers.Range
	if s.Start > 0 {
		ra = &headers.Range{Value: &headers.RangeNPT{Start: s.Start}}
	}
	if _, err := s.client.Play(ra); err != nil {
		return s.ctxErr(ctx, err)
	}
	s.setReadBatch(s.ReadBatch)

	err := s.client.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if ended.Load() {
		s.Logger.Infof("stream ended: the server sent RTCP BYE on every track")
		return nil
	}
	// A server that closes the connection after media flowed has ended the
	// stream (the publisher left): that is an end of stream, not a failure.
	if gotMedia.Load() && isClosed(err) {
		s.Logger.Infof("stream ended: %s closed the connection", mediaurl.HostPort(s.URL))
		return nil
	}
	return s.fail(err)
}

// noteSDP keeps the body of a successful DESCRIBE, so the SDP can be shown
// even when gortsplib refuses to parse it.
func (s *Source) noteSDP(r *base.Response) {
	if r.StatusCode != base.StatusOK || len(r.Body) == 0 {
		return
	}
	if ct, ok := r.Header["Content-Type"]; !ok || len(ct) == 0 || !strings.Contains(strings.ToLower(ct[0]), "sdp") {
		return
	}
	s.rawMu.Lock()
	s.rawSDP = append([]byte(nil), r.Body...)
	s.rawMu.Unlock()
}

// RawSDP is the SDP text the server sent in DESCRIBE, even when it could
// not be used.
func (s *Source) RawSDP() []byte {
	s.rawMu.Lock()
	defer s.rawMu.Unlock()
	return s.rawSDP
}

// Close sends TEARDOWN and closes the connection.
func (s *Source) Close() error {
	if s.client != nil {
		s.client.Close()
	}
	return nil
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// isNonAuthStatus reports an error status other than 401/403: some
// cameras refuse OPTIONS but answer DESCRIBE.
func isNonAuthStatus(err error) bool {
	var bad liberrors.ErrClientBadStatusCode
	return errors.As(err, &bad) && bad.Code != base.StatusUnauthorized && bad.Code != base.StatusForbidden
}
