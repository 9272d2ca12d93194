package rtsp_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/avcat/avcat/pkg/fault"
	"github.com/avcat/avcat/pkg/logging"
	"github.com/avcat/avcat/pkg/rtsp"
)

// authServer is an in-process gortsplib server that protects DESCRIBE.
type authServer struct {
	stream     *gortsplib.ServerStream
	user, pass string
}

func (h *authServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !ctx.Conn.VerifyCredentials(ctx.Request, h.user, h.pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func startAuthServer(t *testing.T, methods []auth.VerifyMethod) (*authServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &authServer{user: "viewer", pass: "pa55-word"}
	s := &gortsplib.Server{Handler: h, RTSPAddress: addr, AuthMethods: methods}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	desc := &description.Session{Medias: []*description.Media{{
		Type:    description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}
	h.stream = &gortsplib.ServerStream{Server: s, Desc: desc}
	if err := h.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stream.Close)
	return h, addr
}

func TestSourceDigestSHA256(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods []auth.VerifyMethod
	}{
		{"sha256", []auth.VerifyMethod{auth.VerifyMethodDigestSHA256}},
		{"md5", []auth.VerifyMethod{auth.VerifyMethodDigestMD5}},
		{"basic", []auth.VerifyMethod{auth.VerifyMethodBasic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startAuthServer(t, tc.methods)
			open := func(userinfo string) error {
				u, _ := url.Parse("rtsp://" + userinfo + addr + "/cam")
				src := &rtsp.Source{Config: rtsp.Config{URL: u, Timeout: 3 * time.Second, Logger: &logging.Logger{}}}
				defer src.Close()
				_, err := src.Open(context.Background())
				return err
			}
			if err := open("viewer:pa55-word@"); err != nil {
				t.Fatalf("right credentials refused: %v", err)
			}
			for _, bad := range []string{"", "viewer:nope@"} {
				err := open(bad)
				if k, _ := fault.KindOf(err); k != fault.Auth {
					t.Fatalf("credentials %q: err %v (kind %v), want auth", bad, err, k)
				}
				if strings.Contains(err.Error(), "nope") {
					t.Fatalf("error leaks the password: %v", err)
				}
			}
		})
	}
}
