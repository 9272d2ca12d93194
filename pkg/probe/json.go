package probe

import (
	"bytes"
	"encoding/json"
	"io"
)

// WriteJSON writes r as one JSON document, indented by two spaces and
// ending in a newline. The schema (docs/probe-json.md) starts with
// "schema_version"; keys are snake_case and in a fixed order, metadata keys
// sorted, streams in SDP order. URLs are redacted.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		r = &Report{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// marshal is json.Marshal without HTML escaping ("&" in an Axis control URL
// stays "&"), and without the trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
