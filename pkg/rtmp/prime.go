package rtmp

import (
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/avcat/avcat/pkg/logging"
)

// gortmplib finds the tracks by reading 2 s of media. Real servers break
// that: nginx-rtmp sends a late joiner audio for up to a GOP before the
// video sequence header, and a player waiting for a publisher gets the
// sequence headers stamped 0 and the media stamped wherever the publisher
// is. primingConn reads ahead until the tracks onMetaData announces have
// their sequence headers, then hands gortmplib the headers first, stamped
// like the first frame.
const (
	// primeSpan bounds the read-ahead in media time: a GOP of real cameras.
	primeSpan = 10 * time.Second
	// primeNoMeta is the read-ahead without onMetaData, gortmplib's own.
	primeNoMeta = 2 * time.Second
	// primeMessages stays under gortmplib's 5000-message replay buffer.
	primeMessages = 4000
)

type primingConn struct {
	gortmplib.Conn
	logger *logging.Logger

	queue   []message.Message
	primed  bool
	hasVid  bool
	hasAud  bool
	dropped map[string]bool
}

// prime reads ahead and reorders the opening messages. It returns the
// first read error, if any came before the tracks were known.
func (c *primingConn) prime() error {
	var (
		wantVideo, wantAudio, haveMeta bool
		videoSeen, audioSeen           bool
		first, last                    time.Duration
		frames                         int
		configs, rest                  []message.Message
	)
	for {
		msg, err := c.Conn.Read()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *message.DataAMF0:
			if meta := metadataOf(m.Payload); meta != nil && !haveMeta {
				haveMeta = true
				wantVideo, wantAudio = announced(meta["videocodecid"]), announced(meta["audiocodecid"])
			}
		case *message.Video:
			if m.Type == message.VideoTypeConfig {
				if m.AVCConfig != nil || m.HEVCConfig != nil {
					videoSeen = true
				}
				configs = append(configs, msg)
				continue
			}
		case *message.VideoExSequenceStart:
			videoSeen = true
			configs = append(configs, msg)
			continue
		case *message.Audio:
			if m.Codec == message.CodecMPEG4Audio && m.AACType == message.AudioAACTypeConfig {
				if m.AACConfig != nil {
					audioSeen = true
				}
				configs = append(configs, msg)
				continue
			}
			if m.Codec != message.CodecMPEG4Audio {
				audioSeen = true
			}
		case *message.AudioExSequenceStart:
			configs = append(configs, msg)
			continue
		case *message.AudioExCodedFrames:
			audioSeen = true
		}
		if dts, ok := mediaDTS(msg); ok {
			if frames == 0 {
				first = dts
			}
			last = max(last, dts)
			frames++
		}
		rest = append(rest, msg)

		span := last - first
		done := false
		switch {
		case len(configs)+len(rest) >= primeMessages:
			done = true
		case frames == 0:
		case haveMeta:
			done = (videoSeen || !wantVideo) && (audioSeen || !wantAudio) || span >= primeSpan
		default:
			done = videoSeen && audioSeen || span >= primeNoMeta
		}
		if done {
			for _, m := range configs {
				restamp(m, first)
			}
			c.queue = append(configs, rest...)
			return nil
		}
	}
}

// Read returns the primed messages, then the connection's. Frames of a
// track the reader never set up are dropped instead of failing the read.
func (c *primingConn) Read() (message.Message, error) {
	for {
		var msg message.Message
		if len(c.queue) > 0 {
			msg = c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
		} else {
			var err error
			if msg, err = c.Conn.Read(); err != nil {
				return nil, err
			}
		}
		if !c.primed {
			return msg, nil
		}
		switch msg.(type) {
		case *message.Video, *message.VideoExCodedFrames, *message.VideoExFramesX:
			if !c.hasVid {
				c.drop("video")
				continue
			}
		case *message.Audio, *message.AudioExCodedFrames:
			if !c.hasAud {
				c.drop("audio")
				continue
			}
		}
		return msg, nil
	}
}

// setTracks switches on the filter once the reader knows its tracks.
func (c *primingConn) setTracks(video, audio bool) {
	c.primed, c.hasVid, c.hasAud = true, video, audio
}

func (c *primingConn) drop(kind string) {
	if c.dropped == nil {
		c.dropped = make(map[string]bool)
	}
	if !c.dropped[kind] {
		c.dropped[kind] = true
		c.logger.Warnf("rtmp: %s started after the tracks were set up; ignoring it", kind)
	}
}

func mediaDTS(msg message.Message) (time.Duration, bool) {
	switch m := msg.(type) {
	case *message.Video:
		return m.DTS, true
	case *message.Audio:
		return m.DTS, true
	case *message.VideoExCodedFrames:
		return m.DTS, true
	case *message.VideoExFramesX:
		return m.DTS, true
	case *message.AudioExCodedFrames:
		return m.DTS, true
	}
	return 0, false
}

func restamp(msg message.Message, dts time.Duration) {
	switch m := msg.(type) {
	case *message.Video:
		m.DTS = dts
	case *message.Audio:
		m.DTS = dts
	}
}

// metadataOf returns the onMetaData object of a data message.
func metadataOf(d amf0.Data) map[string]any {
	if len(d) == 0 {
		return nil
	}
	name, _ := d[0].(string)
	if name == "@setDataFrame" && len(d) > 1 {
		d = d[1:]
		name, _ = d[0].(string)
	}
	if name != "onMetaData" || len(d) < 2 {
		return nil
	}
	return amfToMap(d[1])
}

// announced reports whether onMetaData names a codec: a number or a FourCC.
func announced(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return false
}
