package rtsp

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/media"
)

// Sink publishes to an RTSP server: ANNOUNCE, SETUP (mode=record),
// RECORD, then RTP; TEARDOWN on Close.
type Sink struct {
	Config

	client      *gortsplib.Client
	announced   *description.Session
	medias      map[format.Format]*description.Media
	packetizers map[format.Format]*media.Packetizer
	failed      chan error
	closeOnce   sync.Once
	queued      uint64 // packets handed to gortsplib
	scratch     rtp.Packet
}

// Needs asks for RTP packets when the source has them (forwarded as is),
// and access units otherwise.
func (s *Sink) Needs() engine.Needs { return engine.NeedPackets }

// Open announces desc and starts recording. Codecs that cannot be sent
// over RTP are named before anything goes on the wire.
func (s *Sink) Open(desc *description.Session) error {
	s.defaults()
	if s.Transport == "" || s.Transport == "auto" {
		s.Transport = "tcp"
	}
	if s.Transport == "multicast" {
		return fault.New(fault.Usage, "publishing over multicast is not supported: use --transport tcp or udp")
	}
	tr, err := ParseTransport(s.Transport)
	if err != nil {
		return err
	}
	if err := s.prepare(); err != nil {
		return err
	}
	if err := s.Check(desc); err != nil {
		return err
	}
	s.packetizers = make(map[format.Format]*media.Packetizer)
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			s.packetizers[f], _ = media.NewPacketizer(f)
		}
	}

	bu, err := s.baseURL()
	if err != nil {
		return err
	}
	s.announced = desc
	s.medias = make(map[format.Format]*description.Media)
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			s.medias[f] = m
		}
	}
	s.countUDP = true
	s.wire.batch = tr != nil && *tr == gortsplib.ProtocolTCP
	s.client = s.newClient(tr, nil)
	if err := s.client.Start(); err != nil {
		return s.fail(err)
	}
	if _, err := s.client.Announce(bu, desc); err != nil {
		s.client.Close()
		return s.refused("ANNOUNCE", err)
	}
	if err := s.client.SetupAll(bu, desc.Medias); err != nil {
		s.client.Close()
		return s.refused("SETUP", err)
	}
	if _, err := s.client.Record(); err != nil {
		s.client.Close()
		return s.refused("RECORD", err)
	}
	s.failed = make(chan error, 1)
	go func() { s.failed <- s.client.Wait() }()
	return nil
}

// Check names the codecs that cannot be sent over RTP, without connecting.
func (s *Sink) Check(desc *description.Session) error {
	var bad []string
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if _, err := media.NewPacketizer(f); err != nil {
				bad = append(bad, f.Codec())
			}
		}
	}
	if len(bad) > 0 {
		return fault.New(fault.Unsupported, "cannot send %s over RTSP", strings.Join(bad, ", "))
	}
	return nil
}

// refused explains a refused request with the server's status and reason.
func (s *Sink) refused(method string, err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		e := s.fail(err)
		k, _ := fault.KindOf(e)
		return fault.New(k, "server refused %s: %d %s", method, bad.Code, bad.Message)
	}
	return s.fail(err)
}

// Write sends a unit: its RTP packets as received when it has them, or
// packets made from its access unit.
func (s *Sink) Write(u *media.Unit) error {
	select {
	case err := <-s.failed:
		s.failed <- err
		return fault.New(fault.Network, "server %s dropped the connection: %v", s.hostPort(), s.fail(err))
	default:
	}
	medi := s.medias[u.Format]
	if medi == nil {
		return nil
	}
	ntp := u.NTP
	if ntp.IsZero() {
		ntp = time.Now()
	}
	if len(u.Packets) > 0 {
		s.wire.handed.Store(s.queued + uint64(len(u.Packets)))
		for _, p := range u.Packets {
			if err := s.writePacket(medi, p, ntp); err != nil {
				return err
			}
		}
		return nil
	}
	pkts, err := s.packetizers[u.Format].Packetize(u)
	if err != nil {
		return fmt.Errorf("packetize %s: %w", u.Format.Codec(), err)
	}
	s.wire.handed.Store(s.queued + uint64(len(pkts)))
	for _, p := range pkts {
		if err := s.writePacket(medi, p, ntp); err != nil {
			return err
		}
	}
	return nil
}

// Lossless makes the session wait for this sink instead of dropping:
// a push sends everything, as fast as the server takes it.
func (s *Sink) Lossless() bool { return true }

// writePacket waits while gortsplib's send queue is full, so that an
// unpaced push goes as fast as the server accepts and no faster.
func (s *Sink) writePacket(medi *description.Media, p *rtp.Packet, ntp time.Time) error {
	// gortsplib rewrites the SSRC of the packet it is given and marshals it
	// at once: hand it a copy of the header, so packets shared with other
	// sinks stay untouched, without allocating.
	s.scratch = *p
	var deadline time.Time // set when the queue is first full
	for {
		err := s.client.WritePacketRTPWithNTP(medi, &s.scratch, ntp)
		var full liberrors.ErrClientWriteQueueFull
		if !errors.As(err, &full) {
			if err != nil {
				return s.fail(err)
			}
			s.queued++
			return nil
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.Timeout)
		} else if time.Now().After(deadline) {
			return fault.New(fault.Network, "server %s accepts no data for %s", s.hostPort(), s.Timeout)
		}
		select {
		case err := <-s.failed:
			s.failed <- err
			return fault.New(fault.Network, "server %s dropped the connection: %v", s.hostPort(), s.fail(err))
		case <-time.After(time.Millisecond):
		}
	}
}

// Close waits until every queued packet is on the wire (gortsplib drops
// its queue on close), then sends TEARDOWN and closes the connection.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		if s.client == nil {
			return
		}
		s.drain()
		s.client.Close()
	})
	return nil
}

func (s *Sink) drain() {
	// A unit cut short left the connection waiting for packets that will
	// not come: it writes what it holds now.
	s.wire.handed.Store(s.queued)
	deadline := time.Now().Add(min(s.Timeout, 5*time.Second))
	for time.Now().Before(deadline) {
		s.wire.flush()
		select {
		case err := <-s.failed:
			s.failed <- err
			return
		default:
		}
		if s.wire.rtp.Load() >= s.queued {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Logger.Warnf("server %s did not take the last packets in time", s.hostPort())
}
