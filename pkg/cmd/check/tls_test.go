package check_test

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

// selfSigned writes a certificate for 127.0.0.1 and its key (as in
// pkg/cmd/serve's tests).
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

// rtsps:// and rtmps:// with --insecure; without it the self-signed
// certificate is refused (exit 3). Basic over TLS is not flagged; a foreign
// Digest nonce gets gortsplib's bare 401 (auth.stale-nonce warns).
func TestCheckTLS(t *testing.T) {
	cert, key := selfSigned(t)
	srv := clitest.StartServe(t, "--tls-cert", cert, "--tls-key", key, "--no-udp", "--read-user", "viewer:pw0rd")
	rtsps := strings.Replace(srv.RTSP("demo"), "rtsp://", "rtsps://viewer:pw0rd@", 1)
	rtmps := strings.Replace(srv.RTMP("demo"), "rtmp://", "rtmps://", 1)
	for _, c := range []struct{ url, want string }{
		{rtsps, "auth.stale-nonce=warn play.rtp-info=warn"},
		{rtmps + "?user=viewer&pass=pw0rd", ""},
	} {
		r := clitest.Run(t, time.Minute, "check", "--insecure", "--json", "--duration", "1s", c.url)
		rep := parse(t, r)
		if r.Code != 0 || notPassed(rep) != c.want || strings.Contains(r.Stdout+r.Stderr, "pw0rd") {
			t.Fatalf("%s: exit %d, %s\n%s", c.url, r.Code, notPassed(rep), r)
		}
		r = clitest.Run(t, time.Minute, "check", c.url)
		if r.Code != 3 || !strings.Contains(r.ErrLine(), "certificate") || strings.Contains(r.Stderr, "pw0rd") {
			t.Fatalf("without --insecure: %s", r)
		}
	}
}
