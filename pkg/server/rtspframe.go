package server

import (
	"encoding/base64"
	"errors"
	"net/http"
)

// maxHTTPHead bounds the HTTP request that opens an RTSP-over-HTTP or
// WebSocket tunnel: gortsplib reads it with net/http's ReadRequest, which
// has no size limit of its own.
const maxHTTPHead = 64 << 10

// maxRTSPBody mirrors gortsplib's limit on a Content-Length.
const maxRTSPBody = 128 << 10

// maxWSMessage bounds a WebSocket message: gorilla/websocket, under
// gortsplib's WebSocket tunnel, reads each message whole, with no limit.
// An RTSP request is at most about 800 KiB (gortsplib's header and body
// limits), an interleaved frame 64 KiB.
const maxWSMessage = 1 << 20

var (
	errHTTPHeadTooLarge  = errors.New("tunnel HTTP request head larger than 64 KiB")
	errWSMessageTooLarge = errors.New("tunnel WebSocket message larger than 1 MiB")
)

// Tunnels: after its HTTP head, a POST carries base64 RTSP, a GET
// upgraded to WebSocket carries RTSP in masked frames (a plain GET
// carries nothing).
const (
	tunNone = iota
	tunBase64
	tunWebSocket
)

// framer follows the bytes gortsplib reads from an RTSP connection and
// tells whether a message (a request, a response or a `$` interleaved
// frame, with any garbage gortsplib skips before it) is under way. It
// mirrors gortsplib v5's conn.Read and base.Request.Unmarshal byte for
// byte (FuzzFramerMatchesGortsplib), holds a few bytes of state, and never
// buffers a message.
type framer struct {
	st     frameState
	start  [4]byte // the first bytes of the connection, to spot a tunnel
	nstart int
	peek   byte // PEEK: the first byte of the two gortsplib peeks

	n       int // bytes left (frame, body) or seen (HTTP head)
	key     [15]byte
	nkey    int  // bytes of the header key; more than len(key): not Content-Length
	isCL    bool // the current header is Content-Length
	clCount int
	clValid bool
	clValue int
	lf      int // HTTP head: line feeds in a row
	// starts counts messages begun, so a reader can time the latest one.
	starts uint64

	tun  int
	b64  [4]byte
	nb64 int
	ws   wsFramer
}

// wsFramer follows WebSocket frames from a client.
type wsFramer struct {
	st     int // 0: first header byte, 1: second, 2: extended length, 3: mask, 4: payload
	b0     byte
	n      int    // bytes left of the extended length or mask
	length uint64 // payload length
	masked bool
	mask   [4]byte
	pos    uint64 // payload bytes seen
	msg    uint64 // bytes of the current data message
}

type frameState uint8

const (
	fsStart      frameState = iota // first bytes of the connection
	fsIdle                         // between messages
	fsPeek                         // one byte of the two gortsplib peeks
	fsField1                       // method (or response protocol), until ' '
	fsField2                       // URL, until ' '
	fsRespCode                     // response status code, until ' ' or '\r'
	fsField3                       // protocol (or status message), until '\r'
	fsLF                           // the '\n' of the start line
	fsLineStart                    // start of a header line, or '\r'
	fsEndLF                        // the '\n' ending the header
	fsKey                          // header key, until ':'
	fsSpaces                       // spaces before the value
	fsValue                        // header value, until '\r'
	fsValueLF                      // the '\n' ending a header line
	fsBody                         // n body bytes
	fsFrameHdr                     // n more bytes of the 4-byte frame header
	fsFrameLenLo                   // the low byte of the frame length
	fsFrameBody                    // n payload bytes
	fsHTTPHead                     // a tunnel's HTTP request head
)

// busy reports whether a message has started and not ended.
func (f *framer) busy() bool {
	switch f.st {
	case fsStart:
		return f.nstart > 0
	case fsIdle:
		return f.tun == tunWebSocket && f.ws.st != 0
	}
	return true
}

// feed follows b; it fails only on a tunnel head over maxHTTPHead.
func (f *framer) feed(b []byte) error {
	for _, c := range b {
		if f.st == fsStart {
			if f.nstart == 0 {
				f.starts++
			}
			f.start[f.nstart] = c
			f.nstart++
			if f.nstart < 4 {
				continue
			}
			if s := string(f.start[:]); s == "GET " || s == "POST" {
				// gortsplib reads a tunnel's opening HTTP request first.
				f.st, f.n, f.lf = fsHTTPHead, 4, 0
				continue
			}
			f.st = fsIdle
			for _, c0 := range f.start {
				f.step(c0)
			}
			f.starts = 1 // the replay counts as one start, the first
			continue
		}
		if f.st == fsHTTPHead {
			f.n++
			if f.n > maxHTTPHead {
				return errHTTPHeadTooLarge
			}
			switch c {
			case '\n':
				f.lf++
				if f.lf == 2 {
					f.st, f.tun = fsIdle, tunWebSocket
					if f.start[0] == 'P' {
						f.tun = tunBase64
					}
				}
			case '\r':
			default:
				f.lf = 0
			}
			continue
		}
		switch f.tun {
		case tunBase64:
			f.base64(c)
		case tunWebSocket:
			if err := f.websocket(c); err != nil {
				return err
			}
		default:
			f.step(c)
		}
	}
	return nil
}

// base64 follows a POST tunnel: base64, decoded four characters at a
// time as gortsplib does.
func (f *framer) base64(c byte) {
	if c == '\r' || c == '\n' {
		return
	}
	f.b64[f.nb64] = c
	f.nb64++
	if f.nb64 < 4 {
		return
	}
	f.nb64 = 0
	var out [3]byte
	n, _ := base64.StdEncoding.Decode(out[:], f.b64[:])
	for _, d := range out[:n] {
		f.step(d)
	}
}

// websocket follows a WebSocket tunnel's frames and the RTSP in them.
func (f *framer) websocket(c byte) error {
	w := &f.ws
	switch w.st {
	case 0:
		w.b0, w.st = c, 1
	case 1:
		w.masked = c&0x80 != 0
		w.length, w.pos = uint64(c&0x7f), 0
		switch w.length {
		case 126:
			w.length, w.n, w.st = 0, 2, 2
		case 127:
			w.length, w.n, w.st = 0, 8, 2
		default:
			return w.header()
		}
	case 2:
		w.length = w.length<<8 | uint64(c)
		w.n--
		if w.n == 0 {
			return w.header()
		}
	case 3:
		w.mask[4-w.n] = c
		w.n--
		if w.n == 0 {
			w.payloadOrDone()
		}
	case 4:
		if w.masked {
			c ^= w.mask[w.pos%4]
		}
		w.pos++
		if w.b0&0x08 == 0 { // a data frame: RTSP
			f.step(c)
		}
		if w.pos == w.length {
			w.st = 0
		}
	}
	return nil
}

// header checks a frame's length, once known.
func (w *wsFramer) header() error {
	if w.b0&0x08 == 0 { // data or continuation
		if w.b0&0x0f != 0 {
			w.msg = 0 // a new message
		}
		w.msg += w.length
		if w.length > maxWSMessage || w.msg > maxWSMessage {
			return errWSMessageTooLarge
		}
	}
	if w.masked {
		w.n, w.st = 4, 3
		return nil
	}
	w.payloadOrDone()
	return nil
}

func (w *wsFramer) payloadOrDone() {
	if w.length == 0 {
		w.st = 0
		return
	}
	w.st = 4
}

// isMessageStart mirrors gortsplib's conn.Read: "RT" starts a response,
// these pairs a request; anything else is skipped one byte at a time.
func isMessageStart(a, b byte) bool {
	switch string([]byte{a, b}) {
	case "RT", "AN", "DE", "GE", "OP", "PA", "PL", "RE", "SE", "TE":
		return true
	}
	return false
}

func (f *framer) step(c byte) {
	switch f.st {
	case fsIdle:
		f.peek, f.st = c, fsPeek
		f.starts++
	case fsPeek:
		switch {
		case f.peek == '$':
			// '$' and the channel; the length follows.
			f.st = fsFrameHdr
		case isMessageStart(f.peek, c):
			f.clCount, f.clValid, f.clValue = 0, false, 0
			if f.peek == 'R' && c == 'T' {
				f.st = fsField1 // "RTSP/1.0", then the code
				f.n = 1         // 1: a response
			} else {
				f.st = fsField1
				f.n = 0
			}
		default:
			// gortsplib discards one byte and peeks again.
			f.peek = c
		}
	case fsField1:
		if c == ' ' {
			if f.n == 1 {
				f.st = fsRespCode
			} else {
				f.st = fsField2
			}
		}
	case fsField2:
		if c == ' ' {
			f.st = fsField3
		}
	case fsRespCode:
		switch c {
		case ' ':
			f.st = fsField3
		case '\r':
			f.st = fsLF
		}
	case fsField3:
		if c == '\r' {
			f.st = fsLF
		}
	case fsLF, fsValueLF:
		f.st = fsLineStart
	case fsLineStart:
		if c == '\r' {
			f.st = fsEndLF
			return
		}
		f.key[0], f.nkey, f.st = c, 1, fsKey
	case fsKey:
		if c == ':' {
			f.isCL = f.nkey <= len(f.key) && http.CanonicalHeaderKey(string(f.key[:f.nkey])) == "Content-Length"
			if f.isCL {
				f.clCount++
				f.clValid, f.clValue = false, 0
			}
			f.st = fsSpaces
			return
		}
		if f.nkey < len(f.key) {
			f.key[f.nkey] = c
		}
		if f.nkey <= len(f.key) {
			f.nkey++
		}
	case fsSpaces:
		if c == ' ' {
			return
		}
		f.st = fsValue
		f.value(c)
	case fsValue:
		f.value(c)
	case fsEndLF:
		if f.clCount == 1 && f.clValid && f.clValue > 0 && f.clValue <= maxRTSPBody {
			f.st, f.n = fsBody, f.clValue
		} else {
			f.st = fsIdle
		}
	case fsBody:
		f.n--
		if f.n == 0 {
			f.st = fsIdle
		}
	case fsFrameHdr:
		// the high byte of the length
		f.n = int(c) << 8
		f.st = fsFrameLenLo
	case fsFrameLenLo:
		f.n |= int(c)
		if f.n == 0 {
			f.st = fsIdle
		} else {
			f.st = fsFrameBody
		}
	case fsFrameBody:
		f.n--
		if f.n == 0 {
			f.st = fsIdle
		}
	}
}

// value follows one byte of a header value (or its closing '\r').
func (f *framer) value(c byte) {
	if c == '\r' {
		f.st = fsValueLF
		return
	}
	if !f.isCL {
		return
	}
	if c < '0' || c > '9' {
		f.clValid, f.clValue = false, maxRTSPBody+1
		f.isCL = false // the rest of this value does not matter
		return
	}
	f.clValid = true
	if f.clValue <= maxRTSPBody {
		f.clValue = f.clValue*10 + int(c-'0')
	}
}
