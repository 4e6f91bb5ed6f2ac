package upload

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

	path, sha := writeScan(t, dir, "%PDF-1.4 x")
	it := Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}
	put := func(tc TransportConfig) error {
		t.Helper()
		client, err := NewClient(tc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewHTTPSink(HTTPConfig{Upload: Request{URL: srv.URL + "/up"}, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		return s.Put(context.Background(), it)
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

func TestProxy(t *testing.T) {
	p := newProvince(t)
	var proxied atomic.Int32
	proxy := newHTTPServer(t, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		proxied.Add(1)
		pr.Out.URL = pr.In.URL // a forward proxy gets the absolute URL
	}})
	client, err := NewClient(TransportConfig{Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }})
	if err != nil {
		t.Fatal(err)
	}
	sink := p.sink(t, 0, func(c *HTTPConfig) { c.Client = client })
	h := newHarness(t, time.Now)
	s := h.add("000.00.12.H57-260323-0001", 100<<10)
	if err := sink.Put(context.Background(), Item{Dossier: s.dossier, Name: s.name, SHA256: s.sha, Size: s.size,
		Path: filepath.Join(h.spool, s.sha+".pdf")}); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 1 {
		t.Errorf("%d requests went through the proxy", proxied.Load())
	}
	p.storedOnce(t, h.scans, false)
}

// TestBandwidthLimit: 256 KiB at 256 KiB/s takes most of a second.
func TestBandwidthLimit(t *testing.T) {
	p := newProvince(t)
	sink := p.sink(t, 0, func(c *HTTPConfig) {
		c.Limiter = NewLimiter(256 << 10)
		c.Upload = Request{Method: "PUT", URL: p.srv.URL + "/raw/{dossier}/{filename}", Body: BodyRaw}
	})
	h := newHarness(t, time.Now)
	s := h.add("000.00.12.H57-260323-0001", 256<<10)
	start := time.Now()
	if err := sink.Put(context.Background(), Item{Dossier: s.dossier, Name: s.name, SHA256: s.sha, Size: s.size,
		Path: filepath.Join(h.spool, s.sha+".pdf")}); err != nil {
		t.Fatal(err)
	}
	// The limiter lets a burst of 32 KiB through at once, then paces the rest.
	if took := time.Since(start); took < 800*time.Millisecond {
		t.Errorf("256 KiB at 256 KiB/s took only %v", took)
	}
	p.storedOnce(t, h.scans, false)
}

// TestWholeRequestTimeout: a server that never answers, and never reads
// the body, is given up after upload.http.timeout even though the response
// header timeout is far away.
func TestWholeRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer close(release)
	client, _ := NewClient(TransportConfig{ResponseHeaderTimeout: time.Hour})
	s, err := NewHTTPSink(HTTPConfig{Upload: Request{URL: srv.URL + "/up"}, Client: client, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	path, sha := writeScan(t, t.TempDir(), "%PDF-1.4 x")
	err = s.Put(context.Background(), Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path})
	if kindOf(err) != KindTimeout {
		t.Errorf("%v, want a timeout", err)
	}
	// The caller's cancellation is not a timeout of the sink.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}); err == nil || kindOf(err) == KindTimeout {
		t.Errorf("cancelled: %v", err)
	}
}
