package rtmp

import (
	"net/url"
	"reflect"
	"strings"

	"github.com/bluenviron/gortmplib"
)

// ServerPath is the path and query a client asked for on an accepted
// server connection, taken from the connect's app and the play or publish
// stream name, as lalserver and node-media-server do:
//   - "live" + "cam" is live/cam; a client that repeats the stream name in
//     its app and tcUrl (go2rtc, node-media-server: "live/cam" + "cam") also
//     lands at live/cam, not live/cam/cam;
//   - the query may come with the stream name (live/cam?user=a&pass=b) or,
//     with no stream name, with the app and tcUrl (ffmpeg's form of
//     rtmp://host/demo?user=a&pass=b); the stream name's wins.
//
// gortmplib v1.0.2 keeps the app, tcUrl and stream name private, and its
// sc.URL joins tcUrl and stream name (which doubles a repeated name and
// drops a stream name that starts with "?"); they are read here. Without
// them, sc.URL is used.
func ServerPath(sc *gortmplib.ServerConn) (string, url.Values) {
	app, tcURL, key, ok := serverConnFields(sc)
	if !ok {
		return strings.Trim(sc.URL.Path, "/"), sc.URL.Query()
	}
	appPath, appQ, _ := strings.Cut(app, "?")
	keyPath, keyQ, _ := strings.Cut(key, "?")
	_, tcQ, _ := strings.Cut(tcURL, "?")
	appPath, keyPath = strings.Trim(appPath, "/"), strings.Trim(keyPath, "/")

	path := appPath
	if keyPath != "" && !strings.HasSuffix(appPath, "/"+keyPath) {
		path = strings.TrimPrefix(appPath+"/"+keyPath, "/")
	}
	q := url.Values{}
	for _, raw := range []string{tcQ, appQ, keyQ} {
		vals, _ := url.ParseQuery(raw)
		for k, v := range vals {
			q[k] = v
		}
	}
	return path, q
}

// serverConnFields reads the connect's app and tcUrl (without the Adobe
// auth parameters) and the play or publish stream name of an accepted
// gortmplib.ServerConn.
func serverConnFields(sc *gortmplib.ServerConn) (app, tcURL, key string, ok bool) {
	v := reflect.ValueOf(sc).Elem()
	a, t, c := v.FieldByName("app"), v.FieldByName("tcURL"), v.FieldByName("actionCommand")
	if a.Kind() != reflect.String || t.Kind() != reflect.String || c.Kind() != reflect.Pointer || c.IsNil() {
		return "", "", "", false
	}
	args := c.Elem().FieldByName("Arguments")
	if args.Kind() != reflect.Slice || args.Len() < 2 {
		return "", "", "", false
	}
	k := args.Index(1)
	if k.Kind() == reflect.Interface {
		k = k.Elem()
	}
	if k.Kind() != reflect.String {
		return "", "", "", false
	}
	return a.String(), t.String(), k.String(), true
}
