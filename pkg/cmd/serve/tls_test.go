package serve_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avcat/avcat/internal/clitest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "avcat test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServeTLS(t *testing.T) {
	cert, key := selfSigned(t)
	srv := clitest.StartServe(t, "--tls-cert", cert, "--tls-key", key, "--no-udp")
	rtsps := strings.Replace(srv.RTSP("demo"), "rtsp://", "rtsps://", 1)
	rtmps := strings.Replace(srv.RTMP("demo"), "rtmp://", "rtmps://", 1)

	for _, url := range []string{rtsps, rtmps} {
		r := clitest.Run(t, 30*time.Second, "probe", "--insecure", url)
		if r.Code != 0 || !strings.Contains(r.Stdout, "640x480") {
			t.Fatalf("probe --insecure %s:\n%s", url, r)
		}
		// Without --insecure the self-signed certificate is refused.
		r = clitest.Run(t, 30*time.Second, "probe", url)
		if r.Code != 3 || !strings.Contains(r.ErrLine(), "certificate") {
			t.Fatalf("probe %s without --insecure should fail on the certificate:\n%s", url, r)
		}
	}
	r := clitest.Run(t, 30*time.Second, "probe", "--insecure", "--play", "2s", "--transport", "tcp", rtsps)
	if r.Code != 0 || !strings.Contains(r.Stdout, "measured:") {
		t.Fatalf("play over RTSPS:\n%s", r)
	}

	// Publishing over RTMPS: refused on the certificate, then accepted.
	pub := strings.Replace(srv.RTMP("live/tls"), "rtmp://", "rtmps://", 1)
	r = clitest.Run(t, 30*time.Second, "rtmp-push", clip(t, "h264_aac.flv"), pub)
	if r.Code != 3 || !strings.Contains(r.ErrLine(), "certificate") {
		t.Fatalf("rtmp-push %s without --insecure should fail on the certificate:\n%s", pub, r)
	}
	r = clitest.Run(t, 30*time.Second, "rtmp-push", "--insecure", "--speed", "8", clip(t, "h264_aac.flv"), pub)
	if r.Code != 0 {
		t.Fatalf("rtmp-push over RTMPS:\n%s", r)
	}
}
