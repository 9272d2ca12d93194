// Package check grades an RTSP or RTMP server against the RFCs: it walks the
// client state machine (OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, keepalive,
// TEARDOWN; for RTMP connect, createStream, play), judges each step and
// renders the verdicts as text or JSON. The JSON schema is documented in
// docs/check-json.md.
package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"

	"github.com/avcat/avcat/pkg/mediaurl"
)

// SchemaVersion is "schema_version" in the JSON report.
const SchemaVersion = 1

// Status is the verdict of one check.
type Status int

// Verdicts, from best to worst; Skip means the check could not run.
const (
	Skip Status = iota
	Pass
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	}
	return "skip"
}

// MarshalJSON writes the status as its name.
func (s Status) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a status name.
func (s *Status) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	for _, c := range []Status{Skip, Pass, Warn, Fail} {
		if c.String() == v {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", v)
}

// Check is one judged step.
type Check struct {
	ID string `json:"id"` // e.g. "options.public-truth", "rtp.timestamp"
	// Track is the index of the track (in SDP order) the check is about;
	// nil for checks about the session.
	Track    *int   `json:"track,omitempty"`
	Status   Status `json:"status"`
	Observed string `json:"observed"`
	Ref      string `json:"ref,omitempty"` // "RFC 2326 §10.1"
}

// Summary counts the verdicts.
type Summary struct {
	Passed   int `json:"passed"`
	Warnings int `json:"warnings"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
}

// Report is everything one check run found.
type Report struct {
	URL      string  `json:"url"`
	Protocol string  `json:"protocol"`
	Server   string  `json:"server,omitempty"`
	Checks   []Check `json:"checks"`
}

// Add appends a check.
func (r *Report) Add(id string, st Status, ref, format string, args ...any) {
	r.Checks = append(r.Checks, Check{ID: id, Status: st, Observed: fmt.Sprintf(format, args...), Ref: ref})
}

// AddTrack appends a check about one track.
func (r *Report) AddTrack(id string, track int, st Status, ref, format string, args ...any) {
	t := track
	r.Checks = append(r.Checks, Check{ID: id, Track: &t, Status: st, Observed: fmt.Sprintf(format, args...), Ref: ref})
}

// Summary counts the verdicts.
func (r *Report) Summary() Summary {
	var s Summary
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			s.Passed++
		case Warn:
			s.Warnings++
		case Fail:
			s.Failed++
		default:
			s.Skipped++
		}
	}
	return s
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Summary().Failed > 0 }

// Find returns the checks with the given id.
func (r *Report) Find(id string) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

// redacted returns a copy with credentials removed from every text.
func (r *Report) redacted() *Report {
	out := *r
	out.URL = mediaurl.Redact(r.URL)
	out.Checks = make([]Check, len(r.Checks))
	for i, c := range r.Checks {
		c.Observed = redactText(c.Observed)
		out.Checks[i] = c
	}
	return &out
}

// redactText redacts every URL-looking word of s.
func redactText(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		if strings.Contains(w, "://") {
			words[i] = mediaurl.Redact(w)
		}
	}
	return strings.Join(words, " ")
}

type reportJSON struct {
	SchemaVersion int     `json:"schema_version"`
	URL           string  `json:"url"`
	Protocol      string  `json:"protocol"`
	Server        string  `json:"server,omitempty"`
	Checks        []Check `json:"checks"`
	Summary       Summary `json:"summary"`
	OK            bool    `json:"ok"`
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	rr := r.redacted()
	if rr.Checks == nil {
		rr.Checks = []Check{}
	}
	b, err := json.MarshalIndent(reportJSON{
		SchemaVersion: SchemaVersion, URL: rr.URL, Protocol: rr.Protocol, Server: rr.Server,
		Checks: rr.Checks, Summary: rr.Summary(), OK: !rr.Failed(),
	}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

var marks = map[Status]string{Pass: "✓", Warn: "⚠", Fail: "✗", Skip: "-"}

// WriteText writes one line per check, then a summary line.
func WriteText(w io.Writer, r *Report, colorOn bool) error {
	rr := r.redacted()
	paint := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if colorOn {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	colors := map[Status]*color.Color{
		Pass: paint(color.FgGreen), Warn: paint(color.FgYellow),
		Fail: paint(color.FgRed, color.Bold), Skip: paint(color.Faint),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "check %s\n", clean(rr.URL))
	if rr.Server != "" {
		fmt.Fprintf(&b, "server %s\n", clean(rr.Server))
	}
	width := 0
	for _, c := range rr.Checks {
		width = max(width, len(label(c)))
	}
	for _, c := range rr.Checks {
		line := fmt.Sprintf("%s %-*s  %s", colors[c.Status].Sprint(marks[c.Status]), width, label(c), clean(c.Observed))
		if c.Ref != "" {
			line += "  " + paint(color.Faint).Sprint("["+c.Ref+"]")
		}
		b.WriteString(line + "\n")
	}
	s := rr.Summary()
	verdict := colors[Pass].Sprint("OK")
	if s.Failed > 0 {
		verdict = colors[Fail].Sprint("FAILED")
	}
	fmt.Fprintf(&b, "%s: %d passed, %d warnings, %d failed, %d skipped\n", verdict, s.Passed, s.Warnings, s.Failed, s.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

func label(c Check) string {
	if c.Track != nil {
		return fmt.Sprintf("%s #%d", c.ID, *c.Track)
	}
	return c.ID
}

// clean keeps a peer's text on one line and free of control characters.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
