package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fatih/color"
)

const labelWidth = 10

// palette colors labels and headings only; values stay plain so that
// copying them from a terminal gives clean text.
type palette struct {
	label, heading, measured, warning *color.Color
}

func newPalette(on bool) palette {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return palette{
		label:    mk(color.FgCyan),
		heading:  mk(color.Bold, color.FgCyan),
		measured: mk(color.FgGreen),
		warning:  mk(color.FgYellow),
	}
}

// WriteText writes the human report: header fields, the SDP, the RTMP
// metadata, then one line per stream (plus measured figures and warnings).
// colorOn colors labels and headings with ANSI escapes; it never touches
// fatih/color's global NoColor. Text that came from the peer is escaped so
// it cannot drive the terminal, and URLs are redacted.
func WriteText(w io.Writer, r *Report, colorOn bool) error {
	if r == nil {
		r = &Report{}
	}
	c := sanitize(r)
	p := newPalette(colorOn)
	var b strings.Builder

	field := func(label, value string) {
		if value == "" {
			return
		}
		b.WriteString(p.label.Sprint(label))
		b.WriteString(strings.Repeat(" ", max(1, labelWidth-len(label))))
		b.WriteString(value)
		b.WriteByte('\n')
	}
	section := func(title string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.heading.Sprint(title))
		b.WriteByte('\n')
	}

	field("URL", clean(c.URL))
	field("Server", clean(c.Server))
	methods := make([]string, len(c.Methods))
	for i, m := range c.Methods {
		methods[i] = clean(m)
	}
	field("Methods", strings.Join(methods, ", "))
	field("Title", clean(c.Title))
	if c.Play != nil {
		field("Play", fmt.Sprintf("%s, %.2f s", clean(c.Play.Transport), c.Play.DurationSeconds))
	}

	if strings.TrimSpace(c.SDP) != "" {
		section("SDP")
		lines := strings.Split(strings.ReplaceAll(c.SDP, "\r\n", "\n"), "\n")
		for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
			lines = lines[:len(lines)-1]
		}
		for _, l := range lines {
			b.WriteString(strings.TrimRight("  "+clean(strings.TrimRight(l, "\r")), " "))
			b.WriteByte('\n')
		}
	}

	if len(c.Metadata) > 0 {
		section("Metadata")
		keys := make([]string, 0, len(c.Metadata))
		width := 0
		for k := range c.Metadata {
			keys = append(keys, k)
			width = max(width, min(24, utf8.RuneCountInString(clean(k))))
		}
		sort.Strings(keys)
		for _, k := range keys {
			ck := clean(k)
			pad := max(1, width+2-utf8.RuneCountInString(ck))
			b.WriteString("  " + p.label.Sprint(ck) + strings.Repeat(" ", pad) + formatValue(c.Metadata[k]) + "\n")
		}
	}

	section("Streams")
	if len(c.Streams) == 0 {
		b.WriteString("  (none)\n")
	}
	rtmp := c.IsRTMP()
	rows := make([][]string, len(c.Streams))
	for i, s := range c.Streams {
		rows[i] = streamColumns(&s, rtmp)
	}
	widths := columnWidths(rows)
	for i, s := range c.Streams {
		var line strings.Builder
		line.WriteString("  ")
		for j, col := range rows[i] {
			if widths[j] == 0 {
				continue
			}
			line.WriteString(col)
			if j < len(rows[i])-1 {
				line.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(col)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
		if s.Measured != nil {
			b.WriteString("      " + p.measured.Sprint("measured:") + " " + formatMeasured(&s, rtmp) + "\n")
		}
		if s.Warning != "" {
			b.WriteString("      " + p.warning.Sprint("warning:") + " " + clean(s.Warning) + "\n")
		}
	}

	_, err := io.WriteString(w, b.String())
	return err
}

// streamColumns gives the columns of one stream line: index, media type,
// codec, payload type, clock rate, details, control.
func streamColumns(s *Stream, rtmp bool) []string {
	cols := make([]string, 7)
	cols[0] = "#" + strconv.Itoa(s.Index)
	cols[1] = clean(s.MediaType)
	cols[2] = clean(s.CodecName)
	if s.PayloadType != nil {
		cols[3] = "pt=" + strconv.Itoa(int(*s.PayloadType))
	}
	if s.ClockRate > 0 {
		cols[4] = strconv.Itoa(s.ClockRate) + " Hz"
	}
	cols[5] = strings.Join(details(s, rtmp), ", ")
	if s.Control != "" {
		cols[6] = "control=" + clean(s.Control)
	}
	return cols
}

func details(s *Stream, rtmp bool) []string {
	var d []string
	pl := strings.TrimSpace(s.Profile + " " + s.Level)
	if s.Tier == "High" {
		pl += " High tier"
	}
	if pl != "" {
		d = append(d, clean(pl))
	}
	if s.Width > 0 && s.Height > 0 {
		d = append(d, fmt.Sprintf("%dx%d", s.Width, s.Height))
	}
	if s.FPS > 0 {
		d = append(d, formatFloat(s.FPS)+" fps")
	}
	if s.SampleRate > 0 {
		d = append(d, strconv.Itoa(s.SampleRate)+" Hz")
	}
	if s.Channels > 0 {
		d = append(d, strconv.Itoa(s.Channels)+" ch")
	}
	if s.BitsPerSample > 0 && strings.HasPrefix(s.CodecName, "pcm_") && s.CodecName != "pcm_mulaw" && s.CodecName != "pcm_alaw" {
		d = append(d, strconv.Itoa(s.BitsPerSample)+" bit")
	}
	if (s.CodecName == "h264" || s.CodecName == "hevc") && s.Width == 0 && s.Warning == "" {
		d = append(d, "no SPS")
	}
	if len(d) == 0 && s.RTPMap != "" {
		d = append(d, "rtpmap "+clean(s.RTPMap))
	}
	if s.BackChannel {
		d = append(d, "backchannel")
	}
	// Where the figures came from, when it is not the obvious place.
	if len(d) > 0 && !rtmp {
		switch s.Source {
		case SourceInBand:
			d[len(d)-1] += " (in-band)"
		case SourceMetadata:
			d[len(d)-1] += " (onMetaData)"
		}
	}
	return d
}

func columnWidths(rows [][]string) []int {
	var widths []int
	for _, r := range rows {
		for len(widths) < len(r) {
			widths = append(widths, 0)
		}
		for j, c := range r {
			widths[j] = max(widths[j], utf8.RuneCountInString(c))
		}
	}
	return widths
}

func formatMeasured(s *Stream, rtmp bool) string {
	m := s.Measured
	if m.Packets == 0 && m.Bytes == 0 && m.Frames == 0 && m.FirstPacketMs < 0 {
		return "no packets"
	}
	var parts []string
	if m.Frames > 0 || s.MediaType == "video" {
		parts = append(parts, fmt.Sprintf("%d frames (%.1f fps)", m.Frames, finite(m.FPS)))
	}
	if m.Packets > 0 {
		parts = append(parts, fmt.Sprintf("%d pkts", m.Packets))
	}
	parts = append(parts, formatBitrate(m.BitrateBps))
	if m.GOPFrames > 0 {
		parts = append(parts, "GOP "+formatFloat(math.Round(m.GOPFrames*10)/10))
	}
	if !rtmp {
		parts = append(parts,
			fmt.Sprintf("%d lost (%.2f%%)", m.PacketsLost, finite(m.LossPercent)),
			fmt.Sprintf("jitter %.2f ms", finite(m.JitterMs)))
	}
	if m.FirstPacketMs >= 0 {
		parts = append(parts, fmt.Sprintf("first packet %.0f ms", finite(m.FirstPacketMs)))
	} else {
		parts = append(parts, "no packets")
	}
	if m.FirstKeyframeMs >= 0 {
		parts = append(parts, fmt.Sprintf("first keyframe %.0f ms", finite(m.FirstKeyframeMs)))
	} else if s.MediaType == "video" && m.FirstPacketMs >= 0 {
		parts = append(parts, "no keyframe")
	}
	return strings.Join(parts, ", ")
}

func formatBitrate(bps float64) string {
	bps = finite(bps)
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.1f kbit/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", bps)
}

func formatFloat(v float64) string {
	if math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return formatFloat(x)
	case string:
		return clean(x)
	case bool:
		return strconv.FormatBool(x)
	}
	if b, err := json.Marshal(v); err == nil {
		return clean(string(b))
	}
	return clean(fmt.Sprint(v))
}

// clean escapes what could drive a terminal: C0 and C1 controls, DEL,
// invalid UTF-8 and other non-printable runes.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || !unicode.IsPrint(r) && r != ' ' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
