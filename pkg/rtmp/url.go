// Package rtmp adapts gortmplib to engine sources.
package rtmp

import (
	"net/url"
	"strings"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/mediaurl"
)

// SplitURL splits rtmp://host/app/key into app and stream key, the way
// ffmpeg and nginx-rtmp do: the app is the first path element, the key is
// the rest plus any query string.
func SplitURL(u *url.URL) (app, key string, err error) {
	p := strings.TrimPrefix(u.Path, "/")
	app, key, _ = strings.Cut(p, "/")
	if app == "" {
		return "", "", fault.New(fault.Usage, "RTMP URL %q has no application (want rtmp://host/app/key)", mediaurl.RedactURL(u))
	}
	if u.RawQuery != "" {
		key += "?" + u.RawQuery
	}
	return app, key, nil
}

// libraryURL builds the URL form gortmplib expects: the app in the path
// and the stream key in the fragment.
func libraryURL(u *url.URL) (*url.URL, error) {
	app, key, err := SplitURL(u)
	if err != nil {
		return nil, err
	}
	lu := &url.URL{
		Scheme:   u.Scheme,
		User:     u.User,
		Host:     mediaurl.HostPort(u),
		Path:     "/" + app,
		Fragment: key,
	}
	return lu, nil
}
