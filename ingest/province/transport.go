package province

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// TransportConfig says how a client reaches the provincial system. TLS
// certificates are always verified.
type TransportConfig struct {
	CAFile            string // PEM certificates trusted besides the system's; "": none
	CertFile, KeyFile string // a client certificate and its key (PEM); "": none
	// ConnectTimeout bounds the TCP connect and the TLS handshake; 0: 30s.
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the answer once the request,
	// body included, was sent; 0: 2m.
	ResponseHeaderTimeout time.Duration
	// Proxy picks the proxy of a request; nil: from HTTPS_PROXY, HTTP_PROXY
	// and NO_PROXY in the environment.
	Proxy func(*http.Request) (*url.URL, error)
}

// NewClient returns an HTTP client for the provincial system: verified TLS
// with the extra CA and client certificate, the timeouts above, the proxy,
// and no redirects followed (an upload answered with a redirect is
// reported, not resent elsewhere). Its Timeout is 0: its users bound each
// whole request themselves.
func NewClient(c TransportConfig) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	connect := orDefault(c.ConnectTimeout, 30*time.Second)
	proxy := c.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: orDefault(c.ResponseHeaderTimeout, 2*time.Minute),
		// A 30 MB scan on a commune's slow line is not sent before the
		// server had a chance to refuse it (an expired token, say).
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
