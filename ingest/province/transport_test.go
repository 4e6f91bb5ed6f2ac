package province

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// writeClientCert writes a self-signed client certificate and its key.
func writeClientCert(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, cert
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, clientCert := writeClientCert(t, dir, "000.00.12.H57")
	var peer atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	put := func(tc TransportConfig) error {
		t.Helper()
		client, err := NewClient(tc)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Post(srv.URL+"/up", "application/pdf", strings.NewReader("%PDF-1.4 x"))
		if err != nil {
			return &Error{Kind: TransportKind(err), Err: err}
		}
		resp.Body.Close()
		return nil
	}
	kindOf := func(err error) string {
		var e *Error
		if errors.As(err, &e) {
			return e.Kind
		}
		return ""
	}
	if err := put(TransportConfig{CertFile: certFile, KeyFile: keyFile}); kindOf(err) != KindNetwork ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server certificate no CA vouches for: %v", err)
	}
	if err := put(TransportConfig{CAFile: caFile}); kindOf(err) != KindNetwork {
		t.Errorf("no client certificate: %v", err)
	}
	if err := put(TransportConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}); err != nil {
		t.Errorf("CA file and client certificate: %v", err)
	}
	if cn, _ := peer.Load().(string); cn != "000.00.12.H57" {
		t.Errorf("the server saw client %q", cn)
	}
	os.WriteFile(filepath.Join(dir, "garbage.pem"), []byte("not a certificate"), 0o600)
	for _, tc := range []TransportConfig{{CAFile: filepath.Join(dir, "garbage.pem")}, {CAFile: filepath.Join(dir, "missing.pem")},
		{CertFile: certFile}, {CertFile: certFile, KeyFile: caFile}} {
		if _, err := NewClient(tc); err == nil {
			t.Errorf("%+v accepted", tc)
		}
	}
}
