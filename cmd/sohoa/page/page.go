// Package page serves the counter's own page, in Vietnamese, for the clerk
// at the one-stop counter: the scans taken today and their fates, the scans
// waiting for a dossier code (with a field to type it), the received
// dossiers that still have no uploaded scan (each with its cover sheet),
// this month's and last month's digitization rate as `sohoa report` prints
// it, and the rejected scans still in the errors folder.
//
// The page is server-rendered HTML with embedded CSS and a little
// JavaScript that asks every two seconds whether anything changed and then
// swaps the sections in place; nothing is loaded from outside the binary.
// It reads the store and performs one action, linking a waiting scan,
// exactly as a person renaming the file in the staff folder does.
//
// Safety: every request must name this server's host (localhost, an IP
// address, or a configured name), so a page elsewhere whose name points at
// this PC (DNS rebinding) gets nothing; the one POST also needs this
// server's token and a same-origin Origin; every response sets a strict
// Content-Security-Policy; thumbnails and cover sheets are served only for
// scans and dossiers the store knows, by paths the server makes.
package page

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/store"
)

//go:embed assets
var assets embed.FS

// Store is what the page reads of the store, and the one thing it waits
// on (a linked scan's outcome). *store.Store implements it.
type Store interface {
	Version() (int, error)
	Scans(fn func(store.Scan) bool) error
	Scan(sha string) (store.Scan, error)
	Due(now time.Time, limit int, skip func(store.Job) bool) ([]store.Job, time.Time, error)
	Parked() ([]store.Job, error)
	Received(ward string) ([]store.ReceivedDossier, []string, error)
	Entry(code string) (store.Entry, error)
	Dossier(code string) (store.Dossier, error)
}

// Thumbnailer makes a small picture of a scan's first page, from an
// untrusted file: it must decode under the parser process's limits
// (sandbox.Pool.Thumbnail). A zero Thumbnail means none to show.
type Thumbnailer func(ctx context.Context, path string, maxSide int) (barcode.Thumbnail, error)

// Config sets up a Server. Store, Linker, Inbox and the folder names are
// required.
type Config struct {
	Store    Store
	Ward     string // ward.code
	WardName string // ward.name
	// Linker is the daemon's: a typed code is judged by its Decide, as the
	// name the file will get, before the file is renamed.
	Linker *ingest.Linker
	// Inbox is the scanner folder; Errors and Waiting the staff folders'
	// names directly under it.
	Inbox, Errors, Waiting string
	// SpoolPath is where a scan's content is kept in the data dir
	// (Ingester.SpoolPath), for its thumbnail.
	SpoolPath func(sha string) string
	// Thumbnails makes the waiting scans' thumbnails; nil: a placeholder
	// for every scan (the parser process is off: check.isolate false).
	Thumbnails Thumbnailer
	// Hosts are names besides localhost and IP addresses by which the page
	// may be reached.
	Hosts []string
	// Settle is how long a rename may take to be seen and linked by the
	// daemon (the watcher's quiet period and some); 0: 20 s.
	Settle time.Duration
	// Now is the clock; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the page's handler. It is safe for concurrent use.
type Server struct {
	cfg   Config
	tmpl  *template.Template
	token string // the link form's token: a fresh random one per start

	mu       sync.Mutex
	answers  map[string]answer // the link's answers, by id, until shown
	order    []string
	thumbs   map[string][]byte // PNGs by SHA-256
	thumbAge []string
	linking  sync.Mutex // one rename at a time
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Linker == nil || cfg.Inbox == "" || cfg.Errors == "" || cfg.Waiting == "" {
		return nil, errors.New("page: Store, Linker, Inbox, Errors and Waiting are required")
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 20 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := template.New("page.html").Funcs(template.FuncMap{"join": strings.Join}).ParseFS(assets, "assets/page.html")
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("page: token: %w", err)
	}
	return &Server{cfg: cfg, tmpl: tmpl, token: hex.EncodeToString(b), answers: map[string]answer{}, thumbs: map[string][]byte{}}, nil
}

// Handler returns the page's routes behind the host, origin and header
// checks.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveIndex)
	mux.HandleFunc("GET /version", s.serveVersion)
	mux.HandleFunc("POST /link", s.serveLink)
	mux.HandleFunc("GET /thumb/{sha}", s.serveThumb)
	mux.HandleFunc("GET /coversheet/{code}", s.serveCoversheet)
	mux.HandleFunc("GET /assets/{name}", s.serveAsset)
	return s.guard(mux)
}

// csp allows the page's own files and nothing else: no inline script or
// style, no frame, no form sent elsewhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// guard sets the headers of every response and refuses requests that name
// another host, and state changes from another origin.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// same-origin, not no-referrer: under no-referrer the browser sends
		// "Origin: null" with the page's own form, which sameOrigin refuses.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !s.hostAllowed(r.Host) {
			s.cfg.Logger.Warn("request for another host refused", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "Địa chỉ không đúng: mở trang bằng http://127.0.0.1 hoặc http://localhost.", http.StatusMisdirectedRequest)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			s.cfg.Logger.Warn("cross-origin request refused", "origin", r.Header.Get("Origin"), "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "Yêu cầu từ trang khác bị từ chối.", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a request's Host names this server: an IP
// address (a rebinding attack sends its own domain name, never an
// address), localhost, or a configured name.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" {
		return true
	}
	for _, n := range s.cfg.Hosts {
		if strings.EqualFold(strings.TrimSuffix(n, "."), host) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether a state-changing request comes from a page of
// this server: its Origin is this scheme and Host, and the browser does not
// call it cross-site.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return r.Header.Get("Origin") == scheme+r.Host
}

// serveAsset serves the embedded CSS, JavaScript and placeholder image.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	types := map[string]string{"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
		"noimage.svg": "image/svg+xml"}
	name := r.PathValue("name")
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b) //nolint:errcheck // the browser went away
}
