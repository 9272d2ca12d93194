// Package rtpcap holds what the two RTP capture formats (rtpdump and pcap)
// share: the sidecar SDP and its port plan, the paths beside a capture, the
// timeline that turns captured RTP packets back into unit timestamps, and
// a periodic flusher for their sinks.
//
// It lives under rtpdump because packages may only be added there and
// under pcap; both import it.
//
// # Port plan
//
// Track i (the i-th m= line of the SDP, counting from 0) is the RTP
// session on UDP port 5000+2i, with its RTCP on 5001+2i, at 127.0.0.1.
// The sidecar SDP says so (c=IN IP4 127.0.0.1, m=video 5000 …), the pcap
// sink addresses its packets there, and the rtpdump sink writes it in its
// file headers, so a capture replayed to 127.0.0.1 with rtpplay or
// tcpreplay can be read live with
// `ffplay -protocol_whitelist file,udp,rtp NAME.sdp`.
package rtpcap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"
	psdp "github.com/pion/sdp/v3"

	"github.com/avcat/avcat/pkg/fault"
)

// Port plan of the captures written by avcat.
const (
	// BasePort is the RTP port of track 0; track i uses BasePort+2i.
	BasePort = 5000
	// Address is where the tracks are addressed.
	Address = "127.0.0.1"
	// MaxTracks bounds the tracks of a capture (and so the port plan).
	MaxTracks = 256
)

// Port is the RTP port of track i (its RTCP port is Port(i)+1).
func Port(track int) int { return BasePort + 2*track }

// Stem is path without its extension.
func Stem(path string) string { return strings.TrimSuffix(path, filepath.Ext(path)) }

// SidecarPath is the SDP beside a capture: NAME.sdp for NAME.ext.
func SidecarPath(path string) string { return Stem(path) + ".sdp" }

// MarshalSDP is desc as gortsplib marshals it, with the port plan filled
// in: a session-level c=IN IP4 127.0.0.1 and m= ports 5000, 5002, ….
func MarshalSDP(desc *description.Session) ([]byte, error) {
	if err := CheckDesc(desc); err != nil {
		return nil, err
	}
	b, err := desc.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal SDP: %w", err)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("marshal SDP: %w", err)
	}
	sd.ConnectionInformation = &psdp.ConnectionInformation{
		NetworkType: "IN", AddressType: "IP4", Address: &psdp.Address{Address: Address},
	}
	for i, md := range sd.MediaDescriptions {
		md.MediaName.Port = psdp.RangedPort{Value: Port(i)}
		md.ConnectionInformation = nil
	}
	return sd.Marshal()
}

// WriteSDP writes the sidecar SDP of desc to path.
func WriteSDP(path string, desc *description.Session) error {
	b, err := MarshalSDP(desc)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fault.New(fault.Runtime, "cannot write %s: %v", path, unwrapPath(err))
	}
	return nil
}

// LoadSDP reads the SDP of a capture: sdpPath when set, else the sidecar
// beside path. ports holds the m= port of each media (0 when unset).
func LoadSDP(path, sdpPath string) (desc *description.Session, ports []int, err error) {
	name := filepath.Base(path)
	explicit := sdpPath != ""
	if !explicit {
		sdpPath = SidecarPath(path)
	}
	b, err := os.ReadFile(sdpPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if explicit {
				return nil, nil, fault.New(fault.NotFound, "%s: no such file", sdpPath)
			}
			return nil, nil, fault.New(fault.Unsupported, "%s: no SDP (give --sdp FILE or put %s beside it)",
				name, filepath.Base(sdpPath))
		}
		return nil, nil, fault.New(fault.Runtime, "%s: %v", sdpPath, unwrapPath(err))
	}
	desc, ports, err = ParseSDP(b)
	if err != nil {
		return nil, nil, fault.New(fault.Unsupported, "%s: %v", filepath.Base(sdpPath), err)
	}
	return desc, ports, nil
}

// ParseSDP parses a session description as gortsplib's client does after
// DESCRIBE, and returns the m= port of each media. It never panics.
func ParseSDP(b []byte) (desc *description.Session, ports []int, err error) {
	defer func() {
		if r := recover(); r != nil {
			desc, ports, err = nil, nil, fmt.Errorf("invalid SDP: %v", r)
		}
	}()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, nil, fmt.Errorf("invalid SDP: %w", err)
	}
	var d description.Session
	if err := d.Unmarshal(&sd); err != nil {
		return nil, nil, fmt.Errorf("invalid SDP: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		ports = append(ports, md.MediaName.Port.Value)
	}
	return &d, ports, nil
}

// Create creates (truncates) an output file, with a clear error.
func Create(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault.New(fault.Runtime, "cannot create %s: no such directory", path)
		}
		return nil, fault.New(fault.Runtime, "cannot create %s: %v", path, unwrapPath(err))
	}
	return f, nil
}

// Open opens an input file, with a clear error (fault.NotFound when it
// does not exist).
func Open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault.New(fault.NotFound, "%s: no such file", path)
		}
		return nil, fault.New(fault.Runtime, "%s: %v", path, unwrapPath(err))
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fault.New(fault.Usage, "%s is a directory", path)
	}
	return f, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
