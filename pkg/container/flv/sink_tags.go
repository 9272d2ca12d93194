package flv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/vp9"
)

// tagConn is a gortmplib.Conn that turns the messages gortmplib.Writer
// sends into FLV tags: each message is encoded by gortmplib's chunk
// writer and decoded back by its chunk reader, which yields the raw
// message (type, timestamp, body) an FLV tag carries. Message marshaling
// is unexported in gortmplib, so this round trip is how its codec
// knowledge (AVC/HEVC/AAC sequence headers, enhanced RTMP) is reused.
type tagConn struct {
	pipe bytes.Buffer
	mw   *message.Writer
	mr   *rawmessage.Reader
	w    io.Writer
	n    uint64
	hdr  [tagHeaderSize]byte
	// meta completes the onMetaData object gortmplib writes.
	meta func(amf0.Object) amf0.Object
}

func newTagConn(w io.Writer, meta func(amf0.Object) amf0.Object) *tagConn {
	c := &tagConn{w: w, meta: meta}
	c.mw = message.NewWriter(&c.pipe, bytecounter.NewWriter(io.Discard), false)
	c.mr = rawmessage.NewReader(&c.pipe, bytecounter.NewReader(&c.pipe), nil)
	return c
}

// BytesReceived implements gortmplib.Conn.
func (c *tagConn) BytesReceived() uint64 { return 0 }

// BytesSent implements gortmplib.Conn: the FLV bytes written.
func (c *tagConn) BytesSent() uint64 { return c.n }

// Read implements gortmplib.Conn; nothing is ever read.
func (c *tagConn) Read() (message.Message, error) { return nil, io.EOF }

// Write implements gortmplib.Conn: msg becomes one FLV tag.
func (c *tagConn) Write(msg message.Message) error {
	if d, ok := msg.(*message.DataAMF0); ok {
		msg = c.metadata(d)
	}
	if err := c.mw.Write(msg); err != nil {
		return fmt.Errorf("FLV tag: %w", err)
	}
	raw, err := c.mr.Read()
	if err != nil {
		return fmt.Errorf("FLV tag: %w", err)
	}
	if ft := exFrameType(msg); ft != 0 {
		raw.Body[0] = raw.Body[0]&0x8f | ft<<4
	}
	return c.writeTag(raw.Type, raw.Timestamp, raw.Body)
}

// exFrameType is the FrameType of an enhanced video tag (1 key, 2 inter),
// which gortmplib leaves 0; demuxers find keyframes by it.
func exFrameType(msg message.Message) byte {
	var fourCC message.FourCC
	var payload []byte
	switch m := msg.(type) {
	case *message.VideoExSequenceStart:
		return 1
	case *message.VideoExCodedFrames:
		fourCC, payload = m.FourCC, m.Payload
	case *message.VideoExFramesX:
		fourCC, payload = m.FourCC, m.Payload
	default:
		return 0
	}
	key := false
	switch fourCC {
	case message.FourCCHEVC:
		var au h264.AVCC
		key = au.Unmarshal(payload) == nil && h265.IsRandomAccess(au)
	case message.FourCCAVC:
		var au h264.AVCC
		key = au.Unmarshal(payload) == nil && h264.IsRandomAccess(au)
	case message.FourCCAV1:
		var tu av1.Bitstream
		key = tu.Unmarshal(payload) == nil && av1.IsRandomAccess2(tu)
	case message.FourCCVP9:
		var h vp9.Header
		key = h.Unmarshal(payload) == nil && !h.NonKeyFrame
	}
	if key {
		return 1
	}
	return 2
}

// metadata turns gortmplib's "@setDataFrame" into the onMetaData script
// tag of a file, completed by c.meta.
func (c *tagConn) metadata(d *message.DataAMF0) *message.DataAMF0 {
	var obj amf0.Object
	for _, v := range d.Payload {
		if o, ok := v.(amf0.Object); ok {
			obj = o
		}
	}
	if c.meta != nil {
		obj = c.meta(obj)
	}
	return &message.DataAMF0{
		ChunkStreamID:   d.ChunkStreamID,
		MessageStreamID: d.MessageStreamID,
		Payload:         []any{"onMetaData", amf0.ECMAArray(obj)},
	}
}

// writeTag writes a tag header, the body and the PreviousTagSize.
func (c *tagConn) writeTag(typ uint8, ts time.Duration, body []byte) error {
	if len(body) > 0xFFFFFF {
		return fmt.Errorf("FLV tag of %d bytes is too large", len(body))
	}
	ms := uint32(ts / time.Millisecond)
	h := c.hdr[:]
	h[0] = typ
	h[1], h[2], h[3] = byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	h[4], h[5], h[6], h[7] = byte(ms>>16), byte(ms>>8), byte(ms), byte(ms>>24)
	h[8], h[9], h[10] = 0, 0, 0
	if _, err := c.w.Write(h); err != nil {
		return err
	}
	if _, err := c.w.Write(body); err != nil {
		return err
	}
	var prev [4]byte
	binary.BigEndian.PutUint32(prev[:], uint32(tagHeaderSize+len(body)))
	_, err := c.w.Write(prev[:])
	c.n += uint64(tagHeaderSize + len(body) + 4)
	return err
}
