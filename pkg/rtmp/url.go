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

// target gives what a client sends for u: the tcUrl and app of connect and
// the stream name of play or publish. Credentials of the URL's userinfo
// (or --user/--pass) are added as user= and pass= to the query, the way
// mediamtx and avcat serve read them, unless the query has them already.
// The query goes with the stream name; with no stream name
// (rtmp://host/app?user=a&pass=b) it goes with the app and tcUrl, as ffmpeg
// sends it.
func target(u *url.URL) (tcURL, app, key string) {
	p := strings.TrimPrefix(u.Path, "/")
	app, key, _ = strings.Cut(p, "/")
	q := u.RawQuery
	if u.User != nil {
		vals, _ := url.ParseQuery(q)
		if _, ok := vals["user"]; !ok {
			if _, ok := vals["pass"]; !ok {
				pass, _ := u.User.Password()
				cred := "user=" + url.QueryEscape(u.User.Username()) + "&pass=" + url.QueryEscape(pass)
				if q != "" {
					q += "&"
				}
				q += cred
			}
		}
	}
	tcURL = (&url.URL{Scheme: u.Scheme, Host: mediaurl.HostPort(u), Path: "/" + app}).String()
	if q == "" {
		return tcURL, app, key
	}
	if key == "" {
		return tcURL + "?" + q, app + "?" + q, ""
	}
	return tcURL, app, key + "?" + q
}
