package media

import (
	"bytes"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Parameter set slots of Params.
const (
	vpsSlot = iota
	spsSlot
	ppsSlot
)

// Params keeps the parameter sets of one H.264 (SPS, PPS) or H.265 (VPS,
// SPS, PPS) format: the last ones seen in band, or the format's. When the
// format's change (a reconnect, an RTMP sequence header), those are taken
// again. Other formats have no parameter sets: every method is a no-op.
// It is not safe for concurrent use.
type Params struct {
	f     format.Format
	h265  bool
	ps    [3][]byte // current
	fromF [3][]byte // the format's, when last read
}

// NewParams starts from the format's parameter sets; nil when f is
// neither H.264 nor H.265.
func NewParams(f format.Format) *Params {
	switch f.(type) {
	case *format.H264, *format.H265:
	default:
		return nil
	}
	p := &Params{f: f}
	_, p.h265 = f.(*format.H265)
	p.sync()
	return p
}

// formatParams reads the format's parameter sets.
func formatParams(f format.Format) (ps [3][]byte) {
	switch f := f.(type) {
	case *format.H264:
		ps[spsSlot], ps[ppsSlot] = f.SafeParams()
	case *format.H265:
		ps[vpsSlot], ps[spsSlot], ps[ppsSlot] = f.SafeParams()
	}
	return ps
}

// sync takes the format's parameter sets when they changed.
func (p *Params) sync() {
	fp := formatParams(p.f)
	for i := range fp {
		if !bytes.Equal(fp[i], p.fromF[i]) {
			p.fromF[i] = fp[i]
			if fp[i] != nil {
				p.ps[i] = fp[i]
			}
		}
	}
}

// slot is where a NALU goes in Params, -1 for other NALUs; aud reports
// an access unit delimiter.
func (p *Params) slot(n []byte) (slot int, aud bool) {
	if len(n) == 0 {
		return -1, false
	}
	if p.h265 {
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return vpsSlot, false
		case h265.NALUType_SPS_NUT:
			return spsSlot, false
		case h265.NALUType_PPS_NUT:
			return ppsSlot, false
		case h265.NALUType_AUD_NUT:
			return -1, true
		}
		return -1, false
	}
	switch h264.NALUType(n[0] & 0x1f) {
	case h264.NALUTypeSPS:
		return spsSlot, false
	case h264.NALUTypePPS:
		return ppsSlot, false
	case h264.NALUTypeAccessUnitDelimiter:
		return -1, true
	}
	return -1, false
}

// Learn keeps the parameter sets an access unit carries; it reports
// whether any of them is new.
func (p *Params) Learn(au [][]byte) bool {
	if p == nil {
		return false
	}
	changed := false
	for _, n := range au {
		if i, _ := p.slot(n); i >= 0 && !bytes.Equal(p.ps[i], n) {
			p.ps[i] = n
			changed = true
		}
	}
	return changed
}

// Get returns the current parameter sets; vps is nil for H.264.
func (p *Params) Get() (vps, sps, pps []byte) {
	if p == nil {
		return nil, nil, nil
	}
	p.sync()
	return p.ps[vpsSlot], p.ps[spsSlot], p.ps[ppsSlot]
}

// Complete reports whether every parameter set is known, so the stream
// can be described; true for formats without parameter sets.
func (p *Params) Complete() bool {
	if p == nil {
		return true
	}
	vps, sps, pps := p.Get()
	return sps != nil && pps != nil && (vps != nil || !p.h265)
}

// Store writes the current parameter sets into the format, when they are
// complete.
func (p *Params) Store() {
	if p == nil || !p.Complete() {
		return
	}
	switch f := p.f.(type) {
	case *format.H264:
		f.SafeSetParams(p.ps[spsSlot], p.ps[ppsSlot])
	case *format.H265:
		f.SafeSetParams(p.ps[vpsSlot], p.ps[spsSlot], p.ps[ppsSlot])
	}
	p.fromF = p.ps
}

// Insert returns au with the known parameter sets it lacks in front,
// after a leading access unit delimiter; au itself when it lacks none.
func (p *Params) Insert(au [][]byte) [][]byte {
	if p == nil {
		return au
	}
	p.sync()
	var have [3]bool
	have[vpsSlot] = !p.h265
	lead := 0
	for i, n := range au {
		s, aud := p.slot(n)
		if s >= 0 {
			have[s] = true
		} else if aud && i == 0 {
			lead = 1
		}
	}
	missing := 0
	for i, ps := range p.ps {
		if !have[i] && ps != nil {
			missing++
		}
	}
	if missing == 0 {
		return au
	}
	out := make([][]byte, 0, len(au)+missing)
	out = append(out, au[:lead]...)
	for i, ps := range p.ps {
		if !have[i] && ps != nil {
			out = append(out, ps)
		}
	}
	return append(out, au[lead:]...)
}

// UpdateParams carries the H.264/H.265 parameter sets of next into the
// formats of orig, matched by position (a reconnect to the same stream),
// so destinations get the new ones before the next keyframe.
func UpdateParams(orig, next *description.Session) {
	for i, m := range orig.Medias {
		if i >= len(next.Medias) {
			return
		}
		for j, f := range m.Formats {
			if j < len(next.Medias[i].Formats) {
				copyParams(f, next.Medias[i].Formats[j])
			}
		}
	}
}

func copyParams(dst, src format.Format) {
	if d, s := NewParams(dst), NewParams(src); d != nil && s != nil && d.h265 == s.h265 && s.Complete() {
		d.ps = s.ps
		d.Store()
	}
}
