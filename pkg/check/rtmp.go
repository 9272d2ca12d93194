package check

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/mediaurl"
	"github.com/avcat/avcat/pkg/rtmp"
)

// References for the RTMP steps: Adobe's RTMP specification 1.0, the FLV
// specification 10.1 (annex E) and enhanced RTMP (veovera).
const (
	refRTMPPlay     = "RTMP 1.0 §7.2.1.1, §7.2.2.1"
	refEnhanced     = "Enhanced RTMP v1 (fourCcList)"
	refMetadata     = "FLV 10.1 §E.5 onMetaData"
	refSeqHeader    = "FLV 10.1 §E.4.3.1 (AVCPacketType 0), §E.4.2.2 (AACPacketType 0)"
	refRTMPTime     = "RTMP 1.0 §5.3.1.2"
	refRTMPFirstKey = "FLV 10.1 §E.4.3.1"
)

func runRTMP(ctx context.Context, cfg Config) (*Report, error) {
	u, err := mediaurl.ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.User != "" {
		q := u.Query()
		q.Set("user", cfg.User)
		q.Set("pass", cfg.Pass)
		u.RawQuery = q.Encode()
	}
	r := &Report{URL: cfg.URL, Protocol: u.Scheme}
	hostPort := mediaurl.HostPort(u)
	start := time.Now()
	tlsConfig := &tls.Config{InsecureSkipVerify: cfg.Insecure} //nolint:gosec // opt-in
	d := &net.Dialer{Timeout: cfg.Timeout}
	var nc net.Conn
	if u.Scheme == "rtmps" {
		td := &tls.Dialer{NetDialer: d, Config: tlsConfig.Clone()}
		td.Config.ServerName = u.Hostname()
		nc, err = td.DialContext(ctx, "tcp", hostPort)
	} else {
		nc, err = d.DialContext(ctx, "tcp", hostPort)
	}
	if err != nil {
		return nil, fault.Wrap(fault.Network, err) // refused, unreachable, TLS
	}
	_ = nc.Close()
	r.Add("connect", Pass, "", "connected in %s", ms(time.Since(start)))

	start = time.Now()
	pc, err := rtmp.DialPlay(ctx, u, cfg.Timeout, tlsConfig)
	if err != nil {
		r.Add("rtmp.play", Fail, refRTMPPlay, "%v", err)
		return r, nil
	}
	defer pc.Close()
	if cfg.Trace != nil {
		for _, c := range pc.Commands {
			cfg.Trace("S->C " + c)
		}
	}
	r.Add("rtmp.play", Pass, refRTMPPlay, "handshake, connect, createStream, play in %s: %s",
		ms(time.Since(start)), strings.Join(pc.Commands, ", "))
	if pc.Plain {
		r.Add("rtmp.enhanced", Warn, refEnhanced, "no answer to a connect offering fourCcList; the plain connect was answered")
	} else if len(pc.FourCCs) > 0 {
		r.Add("rtmp.enhanced", Pass, refEnhanced, "offered: %s", strings.Join(pc.FourCCs, ", "))
	} else {
		r.Add("rtmp.enhanced", Pass, refEnhanced, "not offered (legacy FLV codecs only); the enhanced connect was answered")
	}

	stop := context.AfterFunc(ctx, pc.Close)
	defer stop()
	a := &rtmpAnalysis{start: time.Now()}
	_ = pc.SetReadDeadline(a.start.Add(cfg.Duration))
	for {
		msg, err := pc.Read()
		if err != nil {
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) && ctx.Err() == nil {
				a.endErr = err
			}
			break
		}
		if a.add(msg) {
			break
		}
	}
	a.report(r, cfg.Duration)
	return r, nil
}

type rtmpKind struct {
	name       string
	messages   int
	seqHeader  bool
	early      int // frames before the sequence header
	needHeader bool
	last       int64
	have       bool
	backwards  int
	negative   int
	worst      int64
}

type rtmpAnalysis struct {
	start      time.Time
	endErr     error
	ended      string
	metaAt     int // index of the onMetaData message among media, -1 none
	metaKeys   []string
	media      int
	firstMedia time.Time
	firstKey   time.Time
	video      rtmpKind
	audio      rtmpKind
}

// add notes one message; it returns true when the stream ended.
func (a *rtmpAnalysis) add(msg message.Message) bool {
	now := time.Now()
	switch m := msg.(type) {
	case *message.DataAMF0:
		if keys, ok := metadataKeys(m.Payload); ok && a.metaKeys == nil {
			a.metaKeys = keys
			a.metaAt = a.media
		}
	case *message.CommandAMF0:
		if m.Name == "onStatus" {
			for _, arg := range m.Arguments {
				if o, ok := arg.(amf0.Object); ok {
					if code, _ := o.GetString("code"); code == "NetStream.Play.Stop" || code == "NetStream.Play.UnpublishNotify" {
						a.ended = code
						return true
					}
				}
			}
		}
	case *message.UserControlStreamEOF:
		a.ended = "StreamEOF"
		return true
	case *message.Video:
		a.video.name = "video"
		a.video.needHeader = m.Codec == message.CodecH264 || m.Codec == message.CodecH265
		if m.Type == message.VideoTypeConfig {
			a.video.seqHeader = true
			break
		}
		a.mediaAt(now)
		a.frame(&a.video, m.DTS, m.PTSDelta)
		if m.IsKeyFrame && a.firstKey.IsZero() {
			a.firstKey = now
		}
	case *message.VideoExSequenceStart:
		a.video.name, a.video.needHeader, a.video.seqHeader = "video", true, true
	case *message.VideoExCodedFrames:
		a.video.name, a.video.needHeader = "video", true
		a.mediaAt(now)
		a.frame(&a.video, m.DTS, m.PTSDelta)
	case *message.VideoExFramesX:
		a.video.name, a.video.needHeader = "video", true
		a.mediaAt(now)
		a.frame(&a.video, m.DTS, 0)
	case *message.Audio:
		a.audio.name = "audio"
		a.audio.needHeader = m.Codec == message.CodecMPEG4Audio
		if m.Codec == message.CodecMPEG4Audio && m.AACType == message.AudioAACTypeConfig {
			a.audio.seqHeader = true
			break
		}
		a.mediaAt(now)
		a.frame(&a.audio, m.DTS, 0)
	}
	return false
}

func (a *rtmpAnalysis) mediaAt(now time.Time) {
	if a.media == 0 {
		a.firstMedia = now
	}
	a.media++
}

func (a *rtmpAnalysis) frame(k *rtmpKind, dts, ptsDelta time.Duration) {
	k.messages++
	if k.needHeader && !k.seqHeader {
		k.early++
	}
	// RTMP timestamps are 32-bit milliseconds: read them as signed so that
	// a "negative" one (0xFFFFFFxx) is seen as such.
	ts := int64(int32(uint32(dts / time.Millisecond)))
	pts := ts + int64(ptsDelta/time.Millisecond)
	if ts < 0 || pts < 0 {
		k.negative++
		k.worst = min(k.worst, ts, pts)
	}
	if k.have && ts < k.last {
		k.backwards++
	}
	k.last, k.have = ts, true
}

func metadataKeys(d amf0.Data) ([]string, bool) {
	i := 0
	if len(d) > 0 && d[0] == "@setDataFrame" {
		i = 1
	}
	if len(d) < i+2 || d[i] != "onMetaData" {
		return nil, false
	}
	var keys []string
	switch o := d[i+1].(type) {
	case amf0.Object:
		for _, kv := range o {
			keys = append(keys, kv.Key)
		}
	case amf0.ECMAArray:
		for _, kv := range o {
			keys = append(keys, kv.Key)
		}
	}
	return keys, true
}

func (a *rtmpAnalysis) report(r *Report, dur time.Duration) {
	switch {
	case a.metaKeys == nil:
		r.Add("rtmp.metadata", Warn, refMetadata, "no onMetaData in %s", dur)
	case a.metaAt > 0:
		r.Add("rtmp.metadata", Warn, refMetadata, "onMetaData after %d media messages", a.metaAt)
	default:
		r.Add("rtmp.metadata", Pass, refMetadata, "before the media: %s", strings.Join(a.metaKeys, ", "))
	}
	if a.media == 0 {
		msg := fmt.Sprintf("no media in %s", dur)
		if a.ended != "" {
			msg += " (" + a.ended + ")"
		} else if a.endErr != nil {
			msg += fmt.Sprintf(" (%v)", a.endErr)
		}
		r.Add("media.first-packet", Fail, refRTMPPlay, "%s", msg)
		return
	}
	r.Add("media.first-packet", Pass, refRTMPPlay, "after %s, %d media messages in %s", ms(a.firstMedia.Sub(a.start)), a.media, dur)
	if a.video.messages > 0 {
		if a.firstKey.IsZero() {
			r.Add("media.first-keyframe", Fail, refRTMPFirstKey, "no keyframe in %s", dur)
		} else {
			r.Add("media.first-keyframe", Pass, refRTMPFirstKey, "after %s", ms(a.firstKey.Sub(a.start)))
		}
	}
	var notes []string
	st := Pass
	for _, k := range []*rtmpKind{&a.video, &a.audio} {
		if k.messages == 0 {
			continue
		}
		switch {
		case !k.needHeader:
			notes = append(notes, k.name+": none needed")
		case !k.seqHeader:
			st = Fail
			notes = append(notes, fmt.Sprintf("%s: no sequence header", k.name))
		case k.early > 0:
			st = Fail
			notes = append(notes, fmt.Sprintf("%s: %d frames before the sequence header", k.name, k.early))
		default:
			notes = append(notes, k.name+": before the first frame")
		}
	}
	r.Add("rtmp.sequence-headers", st, refSeqHeader, "%s", strings.Join(notes, "; "))

	notes, st = nil, Pass
	for _, k := range []*rtmpKind{&a.video, &a.audio} {
		if k.messages == 0 {
			continue
		}
		switch {
		case k.negative > 0:
			st = Fail
			notes = append(notes, fmt.Sprintf("%s: %d negative (down to %d ms)", k.name, k.negative, k.worst))
		case k.backwards > 0:
			st = Fail
			notes = append(notes, fmt.Sprintf("%s: went back %d times", k.name, k.backwards))
		default:
			notes = append(notes, fmt.Sprintf("%s: monotonic, %d messages", k.name, k.messages))
		}
	}
	r.Add("rtmp.timestamps", st, refRTMPTime, "%s", strings.Join(notes, "; "))
	if a.endErr != nil {
		r.Add("rtmp.connection", Fail, refRTMPPlay, "ended during the check: %v", a.endErr)
	}
}
