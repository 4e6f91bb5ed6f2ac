package sign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/pdfdoc"
	"github.com/sohoa/sohoa/ingest/sign/key"
)

// Failure kinds besides key's.
const (
	KindPDF = "pdf" // the PDF cannot be signed
	KindTSA = "tsa" // the timestamp authority did not give a timestamp
)

// Kinds lists every signing failure kind, for metrics to create at zero.
var Kinds = append(append([]string(nil), key.Kinds...), KindPDF, KindTSA)

// maxBytes caps the file read into memory to be signed.
const maxBytes = 1 << 30

// Copies makes the signed copy of each file before it is uploaded and keeps
// it in Dir until the upload is confirmed, one per (dossier, content) pair:
// a copy made before a crash or a restart is delivered again, never a
// second, differently signed one. Copies are written to a temporary name,
// fsynced and renamed. Its fields are set before use; it is safe for
// concurrent use.
type Copies struct {
	Dir string
	Key *key.Source
	// Name is the digitizer's name in the stamp; "": the certificate's.
	Name string
	// Timestamp makes the signatures B-T (see Signer.Timestamp); nil: B-B.
	Timestamp func(ctx context.Context, digest []byte) ([]byte, error)
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // nil: discard
	Metrics   *Metrics         // nil: none

	mu   sync.Mutex
	last error // the last failure, until a signature succeeds
}

// Path is where the signed copy of content for dossier is kept.
func (c *Copies) Path(dossier, content string) string {
	sum := sha256.Sum256([]byte(dossier + "\x00" + content))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16])+".pdf")
}

// Sign returns the signed copy of the file src (of SHA-256 content) for
// dossier: the one made before, or a new one. Its error is a *key.Error
// (the key or the TSA is unavailable: try later; the kind says which) or
// wraps ErrNotSignable (it never will be).
func (c *Copies) Sign(ctx context.Context, dossier, content, src string) (path, sha string, size int64, err error) {
	path = c.Path(dossier, content)
	if data, err := os.ReadFile(path); err == nil {
		sum := sha256.Sum256(data)
		return path, hex.EncodeToString(sum[:]), int64(len(data)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", 0, fmt.Errorf("signed copy: %w", err)
	}
	defer func() { c.note(err) }()
	k, err := c.Key.Get()
	if err != nil {
		return "", "", 0, err
	}
	in, err := pdfdoc.ReadFile(src, maxBytes)
	if err != nil {
		return "", "", 0, fmt.Errorf("%w: %w", ErrNotSignable, err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	out, err := (&Signer{Key: k.Signer, Chain: k.Chain, Name: c.Name, Timestamp: c.Timestamp}).Sign(ctx, in, now())
	switch {
	case errors.Is(err, ErrKeyFailed):
		// A token pulled out mid-signature: open it again next time.
		c.Key.Reset()
		return "", "", 0, &key.Error{Kind: key.KindToken, Err: err}
	case err != nil && ctx.Err() != nil:
		return "", "", 0, ctx.Err()
	case errors.Is(err, ErrTimestamp):
		return "", "", 0, &key.Error{Kind: KindTSA, Err: err}
	case err != nil && !errors.Is(err, ErrNotSignable):
		return "", "", 0, fmt.Errorf("%w: %w", ErrNotSignable, err)
	case err != nil:
		return "", "", 0, err
	}
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return "", "", 0, fmt.Errorf("signed copy: %w", err)
	}
	if err := atomicfile.Write(path, out, 0o640); err != nil {
		return "", "", 0, fmt.Errorf("signed copy: %w", err)
	}
	sum := sha256.Sum256(out)
	return path, hex.EncodeToString(sum[:]), int64(len(out)), nil
}

// note records the outcome of a signature for Ready and the metrics.
func (c *Copies) note(err error) {
	if err != nil && errors.Is(err, context.Canceled) {
		return
	}
	c.mu.Lock()
	c.last = err
	c.mu.Unlock()
	if err == nil {
		return
	}
	kind := KindPDF
	if e, ok := errors.AsType[*key.Error](err); ok {
		kind = e.Kind
	}
	if c.Metrics != nil {
		c.Metrics.failures.WithLabelValues(kind).Inc()
	}
	if c.Logger != nil {
		c.Logger.Warn("signing failed", "kind", kind, "err", err)
	}
}

// Ready is nil, or why signing is held: the last attempt's failure of the
// key, until a signature succeeds.
func (c *Copies) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || errors.Is(c.last, ErrNotSignable) {
		return nil
	}
	return fmt.Errorf("uploads held, signing fails: %w", c.last)
}

// Remove removes the signed copy of content for dossier once its upload
// is recorded; a missing copy is not an error.
func (c *Copies) Remove(dossier, content string) error {
	if err := os.Remove(c.Path(dossier, content)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Prune removes, at start, the signed copies no queued or parked job will
// deliver (keep says which paths to keep) and temporary files a crash
// left. It returns how many files it removed.
func (c *Copies) Prune(keep func(path string) bool) (int, error) {
	n, err := atomicfile.RemoveTemps(c.Dir)
	if err != nil {
		return n, err
	}
	entries, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	for _, e := range entries {
		p := filepath.Join(c.Dir, e.Name())
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".pdf") && !keep(p) {
			if err := os.Remove(p); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Metrics are the signer's; every kind exists from the start at zero.
type Metrics struct {
	failures *prometheus.CounterVec
}

// NewMetrics registers sohoa_sign_failures_total{kind} with reg.
func NewMetrics(reg prometheus.Registerer, ward string) (*Metrics, error) {
	m := &Metrics{failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sohoa_sign_failures_total",
		Help: "Failed attempts to sign an upload, by kind (token: absent, unplugged or not answering; pin: PIN or password refused; " +
			"key: no usable key or certificate; pdf: the file cannot be signed; tsa: no timestamp). Uploads wait while the key or the TSA fails.",
		ConstLabels: prometheus.Labels{"ward": ward},
	}, []string{"kind"})}
	for _, k := range Kinds {
		m.failures.WithLabelValues(k)
	}
	if err := reg.Register(m.failures); err != nil {
		return nil, err
	}
	return m, nil
}
