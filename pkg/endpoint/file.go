package endpoint

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/mp4"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/pcap"
	"github.com/avcat/avcat/pkg/container/rtpdump"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
)

// Input formats of files.
const (
	FormatMP4     = "mp4"
	FormatMPEGTS  = "ts"
	FormatFLV     = "flv"
	FormatH264    = "h264"
	FormatH265    = "h265"
	FormatAAC     = "aac"
	FormatRTPDump = "rtpdump"
	FormatPcap    = "pcap"
)

// InputFormats lists the accepted --format values for inputs.
var InputFormats = []string{FormatMP4, FormatMPEGTS, FormatFLV, FormatH264, FormatH265, FormatAAC, FormatRTPDump, FormatPcap}

var extFormats = map[string]string{
	".mp4": FormatMP4, ".mov": FormatMP4, ".m4v": FormatMP4, ".m4a": FormatMP4,
	".ts": FormatMPEGTS, ".m2ts": FormatMPEGTS, ".mts": FormatMPEGTS,
	".flv":  FormatFLV,
	".h264": FormatH264, ".264": FormatH264, ".avc": FormatH264,
	".h265": FormatH265, ".265": FormatH265, ".hevc": FormatH265,
	".aac": FormatAAC, ".adts": FormatAAC,
	".rtpdump": FormatRTPDump, ".rtp": FormatRTPDump,
	".pcap": FormatPcap,
}

// FileFormat picks the input format from --format or the extension.
func FileFormat(path, override string) (string, error) {
	if override != "" {
		o := strings.ToLower(override)
		for _, f := range InputFormats {
			if o == f {
				return f, nil
			}
		}
		if o == "mpegts" || o == "mov" {
			return map[string]string{"mpegts": FormatMPEGTS, "mov": FormatMP4}[o], nil
		}
		return "", fault.New(fault.Usage, "unknown input format %q (want one of %s)", override, strings.Join(InputFormats, ", "))
	}
	ext := strings.ToLower(filepath.Ext(path))
	if f, ok := extFormats[ext]; ok {
		return f, nil
	}
	return "", fault.New(fault.Unsupported, "%s: unknown file type %q: use one of .mp4 .mov .ts .flv .h264 .h265 .aac .rtpdump .pcap, or --format", filepath.Base(path), ext)
}

// FileOptions tune file sources.
type FileOptions struct {
	// Format overrides the extension.
	Format string
	// FPS times raw H.264/H.265 (default 25).
	FPS float64
	// SDP describes an rtpdump or pcap capture (default NAME.sdp beside it).
	SDP string
}

// FileSource checks that path is a readable file of a known format and
// returns a function that opens a fresh source on it each time (for loops
// and for one playback per reader).
func (r *Resolver) FileSource(path string, o FileOptions) (func() engine.Source, error) {
	format, err := FileFormat(path, o.Format)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fault.New(fault.NotFound, "%s: no such file", path)
	case err != nil:
		return nil, fault.New(fault.Runtime, "%s: %v", path, errors.Unwrap(err))
	case st.IsDir():
		return nil, fault.New(fault.Usage, "%s is a directory", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.New(fault.Runtime, "%s: %v", path, errors.Unwrap(err))
	}
	f.Close()
	return func() engine.Source {
		switch format {
		case FormatMP4:
			return &mp4.Source{Path: path}
		case FormatMPEGTS:
			return &mpegts.Source{Path: path}
		case FormatFLV:
			return &flv.Source{Path: path}
		case FormatH264, FormatH265:
			// The stream's NAL units decide; the extension is only a hint
			// (an H.265 stream saved as .h264 still works).
			codec := ""
			if o.Format != "" {
				codec = format
			}
			return &annexb.Source{Path: path, Codec: codec, FPS: o.FPS}
		case FormatRTPDump:
			return &rtpdump.Source{Path: path, SDP: o.SDP}
		case FormatPcap:
			return &pcap.Source{Path: path, SDP: o.SDP}
		default:
			return &adts.Source{Path: path}
		}
	}, nil
}
