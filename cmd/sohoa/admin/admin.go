// Package admin serves the daemon's local administration channel: an HTTP
// API on a Unix socket that only the daemon's user and group can reach.
//
// The daemon holds the database's lock, so commands such as `sohoa parked`
// and `sohoa retry` ask the running daemon through this socket instead of
// opening the database a second time. The socket is <data_dir>/admin.sock,
// mode 0660 inside the 0750 data dir; the network cannot reach it.
//
//	GET  /parked   the parked uploads, as a JSON list of Parked
//	POST /retry    a RetryRequest; answers a RetryResult
//	POST /import   an ImportRequest (registry rows the CLI parsed); answers store.RegistryStats
//	GET  /report?from=YYYY-MM-DD&to=YYYY-MM-DD   the ward's report row; answers a ReportResult
//
// Errors are answered as {"error": "..."} with a 4xx or 5xx status.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
)

// SocketName is the admin socket's name in the data dir.
const SocketName = "admin.sock"

// SocketPath returns the admin socket's path for a data dir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Store is what the server needs of the daemon's store (*store.Store).
type Store interface {
	Parked() ([]store.Job, error)
	Requeue(match func(store.Job) bool, restart bool) ([]store.Job, error)
	PutRegistry(rows []dossier.Record, source string, at time.Time) (store.RegistryStats, error)
	Received(ward string) ([]store.ReceivedDossier, []string, error)
}

// Parked is one parked upload as the API shows it. It carries no
// credentials and no sink progress, only what IT needs to decide.
type Parked struct {
	SHA256   string    `json:"sha256"`
	Content  string    `json:"content,omitempty"` // SHA-256 of the file delivered, when not the scan's own (a repaired copy)
	Dossier  string    `json:"dossier"`
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Status   int       `json:"status,omitempty"` // the HTTP status that parked it, 0 if none
	Reason   string    `json:"reason"`           // the sink's error: status and the start of its answer
	Attempts int       `json:"attempts"`
	Enqueued time.Time `json:"enqueued"`
	Parked   time.Time `json:"parked,omitzero"`
}

// FromJob converts a store job to its API form.
func FromJob(j store.Job) Parked {
	p := Parked{SHA256: j.SHA256, Dossier: j.Dossier, Name: j.Name, Size: j.Size, Status: j.Status,
		Reason: j.LastError, Attempts: j.Attempts, Enqueued: j.Enqueued, Parked: j.Parked}
	if j.Content != j.SHA256 {
		p.Content = j.Content
	}
	return p
}

// RetryRequest selects the parked uploads to put back in the queue: exactly
// one of All, SHA256 (a prefix of at least 8 hex digits of the scan's or
// the delivered content's SHA-256) and Dossier. With Restart, a sink of
// several steps starts again at the first instead of resuming.
type RetryRequest struct {
	All     bool   `json:"all,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Dossier string `json:"dossier,omitempty"`
	Restart bool   `json:"restart,omitempty"`
}

// ErrBadRequest marks a RetryRequest that selects nothing or too much.
var ErrBadRequest = errors.New("bad retry request")

// Match returns the store matcher the request selects (nil: every parked
// upload), or an error wrapping ErrBadRequest.
func (r RetryRequest) Match() (func(store.Job) bool, error) {
	n := 0
	for _, set := range []bool{r.All, r.SHA256 != "", r.Dossier != ""} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return nil, fmt.Errorf("%w: give exactly one of all, sha256, dossier", ErrBadRequest)
	case r.All:
		return nil, nil
	case r.Dossier != "":
		return store.ByDossier(strings.TrimSpace(r.Dossier)), nil
	}
	sha := strings.ToLower(strings.TrimSpace(r.SHA256))
	if len(sha) < 8 || len(sha) > 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: sha256 %q is not 8 to 64 hex digits", ErrBadRequest, r.SHA256)
	}
	return store.BySHA256(sha), nil
}

// RetryResult says what a retry requeued.
type RetryResult struct {
	Requeued int      `json:"requeued"`
	Jobs     []Parked `json:"jobs"` // as they were parked
}

// Retry requeues the parked uploads req selects in st. The CLI uses it
// directly on the database when no daemon runs.
func Retry(st Store, req RetryRequest) (RetryResult, error) {
	match, err := req.Match()
	if err != nil {
		return RetryResult{}, err
	}
	// Requeue clears the reason: read it first, to report what was retried.
	before, err := st.Parked()
	if err != nil {
		return RetryResult{}, err
	}
	moved, err := st.Requeue(match, req.Restart)
	if err != nil {
		return RetryResult{}, err
	}
	res := RetryResult{Requeued: len(moved), Jobs: []Parked{}}
	for _, j := range before {
		if match == nil || match(j) {
			res.Jobs = append(res.Jobs, FromJob(j))
		}
	}
	return res, nil
}

// Config configures a Server.
type Config struct {
	// Path is the socket's path, normally SocketPath(data_dir).
	Path  string
	Store Store
	// Wake is called after uploads were requeued (the upload worker's
	// Wake); nil: nothing is called.
	Wake func()
	// Logger receives a line per retry; nil discards.
	Logger *slog.Logger
	// Ward and WardName are this unit's agency code and name, for reports.
	Ward, WardName string
	// Now is the clock of imports and reports; nil: time.Now.
	Now func() time.Time
}

// Server serves the admin API on its socket. Create it with Listen; its
// methods are safe for concurrent use.
type Server struct {
	cfg  Config
	ln   net.Listener
	http *http.Server
}

// Listen creates the socket at cfg.Path, mode 0660. A socket file left by a
// daemon that died is removed first; one that still answers (another
// daemon) is an error, and so is any other kind of file at the path.
func Listen(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("admin: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := removeStale(cfg.Path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// The socket is created 0777 less the umask; connecting needs write
	// permission, so 0660 lets exactly the daemon's user and group in.
	if err := os.Chmod(cfg.Path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	s := &Server{cfg: cfg, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /parked", s.parked)
	mux.HandleFunc("POST /retry", s.retry)
	mux.HandleFunc("POST /import", s.importRows)
	mux.HandleFunc("GET /report", s.report)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// removeStale removes a socket file at path that nobody answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("admin socket: another process answers on %s (is another sohoa running on this data dir?)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("admin socket: probe %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin socket: remove stale %s: %w", path, err)
	}
	return nil
}

// Serve answers requests until Shutdown; it returns nil then.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting requests, waits for those under way until ctx
// ends, and removes the socket. It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.ln.Close() // in case Serve never ran: Shutdown closes only the listeners it serves
	if rerr := os.Remove(s.cfg.Path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

func (s *Server) parked(w http.ResponseWriter, r *http.Request) {
	jobs, err := s.cfg.Store.Parked()
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	list := make([]Parked, 0, len(jobs))
	for _, j := range jobs {
		list = append(list, FromJob(j))
	}
	reply(w, http.StatusOK, list)
}

func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	var req RetryRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrBadRequest, err))
		return
	}
	res, err := Retry(s.cfg.Store, req)
	if errors.Is(err, ErrBadRequest) {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	if res.Requeued > 0 {
		s.cfg.Logger.Info("parked uploads requeued", "count", res.Requeued, "all", req.All,
			"sha256", req.SHA256, "dossier", req.Dossier, "restart", req.Restart)
		if s.cfg.Wake != nil {
			s.cfg.Wake()
		}
	}
	reply(w, http.StatusOK, res)
}

func (s *Server) fail(w http.ResponseWriter, status int, err error) {
	if status >= 500 {
		s.cfg.Logger.Error("admin request failed", "err", err)
	}
	reply(w, status, errorBody{Error: err.Error()})
}

type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
