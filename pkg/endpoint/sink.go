package endpoint

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/avcat/avcat/pkg/container/adts"
	"github.com/avcat/avcat/pkg/container/annexb"
	"github.com/avcat/avcat/pkg/container/flv"
	"github.com/avcat/avcat/pkg/container/mp4w"
	"github.com/avcat/avcat/pkg/container/mpegts"
	"github.com/avcat/avcat/pkg/container/pcap"
	"github.com/avcat/avcat/pkg/container/rtpdump"
	"github.com/avcat/avcat/pkg/container/sdpfile"
	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/fault"
)

// Output formats.
const (
	OutMPEGTS  = "ts"
	OutMP4     = "mp4"
	OutFMP4    = "fmp4"
	OutFLV     = "flv"
	OutH264    = "h264"
	OutH265    = "h265"
	OutAAC     = "aac"
	OutSDP     = "sdp"
	OutRTPDump = "rtpdump"
	OutPcap    = "pcap"
)

// OutputFormats lists the accepted --format values for outputs.
var OutputFormats = []string{OutMPEGTS, OutMP4, OutFMP4, OutFLV, OutH264, OutH265, OutAAC, OutSDP, OutRTPDump, OutPcap}

var extOutputs = map[string]string{
	".ts": OutMPEGTS, ".m2ts": OutMPEGTS, ".mts": OutMPEGTS,
	".mp4": OutMP4, ".m4v": OutMP4, ".mov": OutMP4,
	".flv":  OutFLV,
	".h264": OutH264, ".264": OutH264,
	".h265": OutH265, ".265": OutH265, ".hevc": OutH265,
	".aac":     OutAAC,
	".sdp":     OutSDP,
	".rtpdump": OutRTPDump, ".rtp": OutRTPDump,
	".pcap": OutPcap,
}

// SinkFileOptions choose how an output is written.
type SinkFileOptions struct {
	// Format overrides the extension (see OutputFormats).
	Format string
	// Fragmented writes fMP4 for .mp4.
	Fragmented bool
}

// OutputFormat picks the output format of path ("-" is stdout).
func OutputFormat(path string, o SinkFileOptions) (string, error) {
	f := strings.ToLower(o.Format)
	if f == "mpegts" {
		f = OutMPEGTS
	}
	if f != "" {
		for _, ok := range OutputFormats {
			if f == ok {
				return f, nil
			}
		}
		return "", fault.New(fault.Usage, "unknown output format %q (want one of %s)", o.Format, strings.Join(OutputFormats, ", "))
	}
	if path == "-" {
		if o.Fragmented {
			return OutFMP4, nil
		}
		return OutMPEGTS, nil
	}
	ext := strings.ToLower(filepath.Ext(path))
	out, ok := extOutputs[ext]
	if !ok {
		return "", fault.New(fault.Usage, "%s: unknown output type %q: use .ts .mp4 .flv .h264 .h265 .aac .sdp .rtpdump .pcap, or --format", path, ext)
	}
	if out == OutMP4 && o.Fragmented {
		out = OutFMP4
	}
	return out, nil
}

// FileSink builds the sink for an output path, or for w when path is "-".
func FileSink(path string, w io.Writer, o SinkFileOptions) (engine.Sink, string, error) {
	format, err := OutputFormat(path, o)
	if err != nil {
		return nil, "", err
	}
	if path == "-" {
		if w == nil {
			return nil, "", fault.New(fault.Usage, "standard output (-) is not an output here: name a file")
		}
		switch format {
		case OutMPEGTS:
			return &mpegts.Sink{Path: "stdout", W: w}, format, nil
		case OutMP4, OutFMP4:
			return &mp4w.FMP4Sink{Path: "stdout", W: w}, OutFMP4, nil
		case OutFLV:
			return &flv.Sink{Path: "stdout", W: w}, format, nil
		case OutH264, OutH265:
			return &annexb.Sink{Path: "stdout", W: w}, format, nil
		case OutAAC:
			return &adts.Sink{Path: "stdout", W: w}, format, nil
		case OutSDP:
			return &sdpfile.Sink{Path: "stdout", W: w}, format, nil
		}
		return nil, "", fault.New(fault.Usage, "%s output needs a file: it writes a sidecar SDP", format)
	}
	switch format {
	case OutMPEGTS:
		return &mpegts.Sink{Path: path}, format, nil
	case OutMP4:
		return &mp4w.MP4Sink{Path: path}, format, nil
	case OutFMP4:
		return &mp4w.FMP4Sink{Path: path}, format, nil
	case OutFLV:
		return &flv.Sink{Path: path}, format, nil
	case OutH264, OutH265:
		return &annexb.Sink{Path: path}, format, nil
	case OutAAC:
		return &adts.Sink{Path: path}, format, nil
	case OutSDP:
		return &sdpfile.Sink{Path: path}, format, nil
	case OutRTPDump:
		return &rtpdump.Sink{Path: path}, format, nil
	case OutPcap:
		return &pcap.Sink{Path: path}, format, nil
	}
	return nil, "", fault.New(fault.Usage, "unknown output format %q", format)
}
