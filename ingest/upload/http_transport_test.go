package upload

import (
	"github.com/sohoa/sohoa/ingest/province"

	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestProxy(t *testing.T) {
	p := newProvince(t)
	var proxied atomic.Int32
	proxy := newHTTPServer(t, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		proxied.Add(1)
		pr.Out.URL = pr.In.URL // a forward proxy gets the absolute URL
	}})
	client, err := province.NewClient(province.TransportConfig{Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }})
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
	client, _ := province.NewClient(province.TransportConfig{ResponseHeaderTimeout: time.Hour})
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
