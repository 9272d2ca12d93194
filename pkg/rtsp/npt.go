package rtsp

import (
	"strconv"
	"strings"
	"time"
)

// ParseNPTStart reads the start of an NPT range: "npt=START-[END]",
// "START-" or a bare START, in seconds or hh:mm:ss[.frac]. It reports false
// for "now" and for anything it cannot read.
func ParseNPTStart(v string) (time.Duration, bool) {
	r := strings.TrimSpace(v)
	r = strings.TrimPrefix(r, "npt=")
	startStr, _, _ := strings.Cut(r, "-")
	startStr = strings.TrimSpace(startStr)
	if startStr == "" || startStr == "now" {
		return 0, false
	}
	var secs float64
	if strings.Contains(startStr, ":") {
		parts := strings.Split(startStr, ":")
		if len(parts) > 3 {
			return 0, false
		}
		for _, p := range parts {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 {
				return 0, false
			}
			secs = secs*60 + f
		}
	} else {
		f, err := strconv.ParseFloat(startStr, 64)
		if err != nil || f < 0 {
			return 0, false
		}
		secs = f
	}
	if secs > 1e7 {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}
