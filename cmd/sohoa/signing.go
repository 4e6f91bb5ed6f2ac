package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/pdfdoc"
	"github.com/sohoa/sohoa/ingest/sign"
	"github.com/sohoa/sohoa/ingest/sign/key"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/upload"
)

// newSigning builds the signing of uploads from the sign: section, nil
// when it is off, and removes the signed copies no job needs any more (a
// crash after an upload was recorded leaves its copy). The key is opened
// at the first upload: a token that is not plugged in holds uploads, it
// does not stop the daemon.
func newSigning(cfg config.Config, st *store.Store, reg prometheus.Registerer, log *slog.Logger) (*sign.Copies, error) {
	if !cfg.Sign.Enabled {
		return nil, nil
	}
	m, err := sign.NewMetrics(reg, cfg.Ward.Code)
	if err != nil {
		return nil, err
	}
	c := &sign.Copies{
		Dir:     filepath.Join(cfg.DataDir, "signed"),
		Key:     key.NewSource(cfg.Sign.KeyConfig()),
		Name:    cfg.Sign.SignerName,
		Logger:  log,
		Metrics: m,
	}
	if cfg.Sign.TSAURL != "" {
		c.Timestamp = (&sign.TSA{URL: cfg.Sign.TSAURL}).Timestamp
	}
	queued, _, err := st.Jobs(time.Now().Add(100*365*24*time.Hour), 1<<30)
	if err != nil {
		return nil, fmt.Errorf("signed copies: %w", err)
	}
	parked, err := st.Parked()
	if err != nil {
		return nil, fmt.Errorf("signed copies: %w", err)
	}
	keep := map[string]bool{}
	for _, j := range append(queued, parked...) {
		keep[c.Path(j.Dossier, j.Content)] = true
	}
	n, err := c.Prune(func(p string) bool { return keep[p] })
	if err != nil {
		return nil, fmt.Errorf("signed copies: %w", err)
	}
	if n > 0 {
		log.Info("removed signed copies of uploads already recorded", "files", n)
	}
	return c, nil
}

// signingSummary says what signing will do with uploads, for `sohoa check`.
func signingSummary(s config.Sign) string {
	if !s.Enabled {
		return "signing: off (sign.enabled: false): uploads are not signed"
	}
	where := fmt.Sprintf("the key on token %q (library %s)", s.PKCS11.TokenLabel, s.PKCS11.Module)
	if s.Key == "pkcs12" {
		where = "the key in " + s.PKCS12.File
	}
	name := "the certificate's name"
	if s.SignerName != "" {
		name = fmt.Sprintf("%q", s.SignerName)
	}
	level := "PAdES B-B (no timestamp)"
	if s.TSAURL != "" {
		level = "PAdES B-T, timestamps from " + s.TSAURL
	}
	return fmt.Sprintf("signing: on: each upload signed with %s, %s, stamp top-left of page 1 naming %s; try it with sohoa sign-test", where, level, name)
}

// signVerdict says whether the file at path can be signed at upload:
// "signed", or "not_signable" and why.
func signVerdict(path string) (string, string) {
	b, err := pdfdoc.ReadFile(path, 1<<30)
	if err == nil {
		err = sign.Signable(b)
	}
	if err != nil {
		return "not_signable", err.Error()
	}
	return "signed", ""
}

// signUploads has the worker deliver each job's signed copy, and remove it
// once the upload is recorded.
func signUploads(w *upload.Worker, c *sign.Copies) {
	w.Sign = func(ctx context.Context, j store.Job, path string) (upload.Signed, error) {
		p, sha, size, err := c.Sign(ctx, j.Dossier, j.Content, path)
		if errors.Is(err, sign.ErrNotSignable) {
			return upload.Signed{}, &upload.Error{Kind: upload.KindSource, Permanent: true, Err: err}
		}
		return upload.Signed{Path: p, SHA256: sha, Size: size}, err
	}
	done := w.Done
	w.Done = func(j store.Job) {
		done(j)
		if err := c.Remove(j.Dossier, j.Content); err != nil {
			c.Logger.Warn("remove signed copy after upload; removed at next start", "dossier", j.Dossier, "sha256", j.SHA256, "err", err)
		}
	}
}
