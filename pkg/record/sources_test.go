package record

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

var sourcesCases = []struct {
	in   string
	want []string
	err  string
}{
	{in: "rtsp://a/1\nrtsp://b/2\n", want: []string{"rtsp://a/1", "rtsp://b/2"}},
	{in: "# cameras\n\n  rtsp://a/1  \r\n\t\nrtsp://b/2 # lobby\nrtsp://c/3\t# yard", want: []string{"rtsp://a/1", "rtsp://b/2", "rtsp://c/3"}},
	{in: "rtsp://u:p#w@a/1\n", want: []string{"rtsp://u:p#w@a/1"}},
	{in: "", want: nil},
	{in: "# only\n\n", want: nil},
	{in: "rtsp://a/1\nrtsp://a/2 rtsp://a/3\n", err: "line 2: one URL a line"},
	{in: "rtsp://a/1\n" + strings.Repeat("x", MaxSourceLine+1), err: "line 2: longer than"},
	{in: strings.Repeat("rtsp://a/x\n", MaxSources+1), err: fmt.Sprintf("line %d: more than %d sources", MaxSources+1, MaxSources)},
}

func TestParseSources(t *testing.T) {
	for _, c := range sourcesCases {
		got, err := ParseSources(strings.NewReader(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%.40q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%.40q = %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

func FuzzParseSources(f *testing.F) {
	for _, c := range sourcesCases {
		if len(c.in) < 1024 {
			f.Add(c.in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseSources(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(got) > MaxSources {
			t.Fatalf("%d sources", len(got))
		}
		for _, s := range got {
			if s == "" || s[0] == '#' || strings.ContainsAny(s, " \t\n\r") || !strings.Contains(in, s) {
				t.Fatalf("bad source %q from %q", s, in)
			}
		}
	})
}

var sourceCases = []struct {
	tmpl string
	src  Source
	want string
	err  string
}{
	{"%{path}.mp4", Source{URL: "rtsp://cam/live/main", Index: 1}, "live_main.mp4", ""},
	{"%{host}/%{index}-%Y.ts", Source{URL: "rtsp://user:secret@10.0.0.5:8554/x", Index: 12}, "10.0.0.5_8554/12-%Y.ts", ""},
	{"%{path}.mp4", Source{URL: "rtsp://cam/cam/realmonitor?channel=1&subtype=0", Index: 1}, "cam_realmonitor_channel_1_subtype_0.mp4", ""},
	{"%{path}.mp4", Source{URL: "rtsp://cam/s?token=abc123", Index: 1}, "s_token.mp4", ""},
	{"%{path}.mp4", Source{URL: "rtsp://cam", Index: 1}, "_.mp4", ""},
	{"%{path}.mp4", Source{URL: "rtsp://cam/../..", Index: 1}, "_._...mp4", ""},
	{"%{path}.mp4", Source{URL: "rtsp://cam/" + strings.Repeat("a", 300), Index: 1}, strings.Repeat("a", MaxFieldLen) + ".mp4", ""},
	{"100%%{path}", Source{URL: "rtsp://cam/x", Index: 1}, "100%%{path}", ""},
	{"%{name}.mp4", Source{URL: "rtsp://cam/x", Index: 1}, "", "unknown field %{name}"},
	{"%{path.mp4", Source{URL: "rtsp://cam/x", Index: 1}, "", "without a closing }"},
}

func TestExpandSource(t *testing.T) {
	for _, c := range sourceCases {
		got, err := ExpandSource(c.tmpl, c.src)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.tmpl, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q with %s = %q (%v), want %q", c.tmpl, c.src.URL, got, err, c.want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "abc123") {
			t.Errorf("%q leaks a secret", got)
		}
	}
	srcs := []Source{{URL: "rtsp://a:1/x", Index: 1}, {URL: "rtsp://a:2/x", Index: 2}, {URL: "rtsp://a:1/y", Index: 3}}
	for tmpl, want := range map[string]string{
		"%{index}.mp4":        "",
		"%{host}-%{path}.mp4": "",
		"%{path}.mp4":         "sources 1 and 2",
		"%{host}/%H.mp4":      "sources 1 and 3",
		"cam/%Y-%m-%d.mp4":    "sources 1 and 2",
		"%%{index}.mp4":       "sources 1 and 2",
	} {
		err := CheckDistinct(tmpl, srcs)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("CheckDistinct(%q) = %v, want %q", tmpl, err, want)
		}
	}
}

func FuzzExpandSource(f *testing.F) {
	for _, c := range sourceCases {
		f.Add(c.tmpl, c.src.URL)
	}
	f.Fuzz(func(t *testing.T, tmpl, raw string) {
		out, err := ExpandSource(tmpl, Source{URL: raw, Index: 1})
		if err != nil {
			return
		}
		if !HasSourceField(tmpl) && out != tmpl {
			t.Fatalf("template without fields changed: %q -> %q", tmpl, out)
		}
		// Values add only safe bytes, so Expand sees only the template's %.
		if strings.Count(out, "%") > strings.Count(tmpl, "%") {
			t.Fatalf("%q -> %q: a value added a %%", tmpl, out)
		}
	})
}
