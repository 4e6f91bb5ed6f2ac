package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// writeServerCert writes a self-signed certificate for 127.0.0.1 and its
// key into dir, and returns a pool that trusts it.
func writeServerCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sohoa test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	if err := os.WriteFile(filepath.Join(dir, "web.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

// TestMetricsBehindTLSAndBasicAuth runs the daemon with web_config set to
// configs/web.yml: every endpoint is served over TLS only, and answers only
// the configured user.
func TestMetricsBehindTLSAndBasicAuth(t *testing.T) {
	e := newEnv(t)
	pool := writeServerCert(t, e.dir)
	const user, password = "prometheus", "đúng-mật-khẩu 42"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped example, with the test's hash for its user: its
	// certificate paths are relative to it.
	example, err := os.ReadFile(filepath.Join(testenv.Root(t), "configs", "web.yml"))
	if err != nil {
		t.Fatal(err)
	}
	userLine := regexp.MustCompile(`(?m)^  ` + user + `: .*$`)
	if !userLine.Match(example) {
		t.Fatalf("configs/web.yml has no user %s", user)
	}
	webYML := filepath.Join(e.dir, "web.yml")
	if err := os.WriteFile(webYML, userLine.ReplaceAllLiteral(example, fmt.Appendf(nil, "  %s: %s", user, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(fmt.Sprintf("upload:\n  sink: dir\n  dir: {path: %q}\nweb_config: %q\n", e.outbox, webYML))
	e.start()
	if !strings.HasPrefix(e.metricsURL, "https://127.0.0.1:") {
		t.Fatalf("ready line gives %s, want an https URL", e.metricsURL)
	}
	base := strings.TrimSuffix(e.metricsURL, "/metrics")

	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(c *http.Client, url, user, pass string) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		tests := []struct {
			name, user, pass string
			want             int
		}{
			{"no credentials", "", "", http.StatusUnauthorized},
			{"wrong password", user, "sai", http.StatusUnauthorized},
			{"unknown user", "admin", password, http.StatusUnauthorized},
			{"right credentials", user, password, http.StatusOK},
		}
		for _, tt := range tests {
			code, body, err := get(trusting, base+path, tt.user, tt.pass)
			if err != nil || code != tt.want {
				t.Errorf("%s %s: status %d, %v; want %d", path, tt.name, code, err, tt.want)
			}
			if tt.want != http.StatusOK && strings.Contains(body, "sohoa_") {
				t.Errorf("%s %s: metrics served without credentials", path, tt.name)
			}
			if path == "/metrics" && tt.want == http.StatusOK && !strings.Contains(body, `sohoa_scans_total{ward="000.00.12.H57"}`) {
				t.Errorf("scrape with credentials has no sohoa_scans_total:\n%.500s", body)
			}
		}
	}

	// Failed logins are rate-limited (ten, then one a second): a LAN
	// client cannot keep the cores busy with bcrypt.
	codes := map[int]int{}
	for i := range 20 {
		code, _, err := get(trusting, base+"/metrics", user, fmt.Sprintf("guess%d", i))
		if err != nil {
			t.Fatal(err)
		}
		codes[code]++
	}
	if codes[http.StatusTooManyRequests] < 10 || codes[http.StatusOK] > 0 {
		t.Errorf("20 more wrong passwords: %v, want most refused with 429", codes)
	}

	// Plain HTTP gets no metrics, even with the right credentials.
	plain := "http://" + strings.TrimPrefix(base, "https://") + "/metrics"
	if code, body, err := get(&http.Client{Timeout: 10 * time.Second}, plain, user, password); err == nil && (code == http.StatusOK || strings.Contains(body, "sohoa_")) {
		t.Errorf("plain HTTP scrape answered %d:\n%.300s", code, body)
	}
	// A client that does not trust the certificate does not connect.
	if _, _, err := get(&http.Client{Timeout: 10 * time.Second}, base+"/metrics", user, password); err == nil {
		t.Error("a client without the CA connected")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted client: %v, want a certificate error", err)
	}
}
