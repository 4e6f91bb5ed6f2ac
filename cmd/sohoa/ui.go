package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/cmd/sohoa/page"
	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/store"
)

// newPage listens on ui.listen and returns the counter's page server, or
// nil when ui.listen is empty or cannot be listened on (logged: the daemon
// runs on without its page). Thumbnails are made by the parser processes
// (checker, when it is the sandbox's pool): without check.isolate every
// scan shows a placeholder, since page images are never decoded in the
// daemon itself for the page.
func newPage(cfg config.Config, st *store.Store, in *ingest.Ingester, linker *ingest.Linker, checker ingest.Checker,
	log *slog.Logger) (net.Listener, *http.Server, error) {
	if cfg.UI.Listen == "" {
		return nil, nil, nil
	}
	var thumbs page.Thumbnailer
	if p, ok := checker.(interface {
		Thumbnail(ctx context.Context, path string, maxSide int) (barcode.Thumbnail, error)
	}); ok {
		thumbs = p.Thumbnail
	}
	srv, err := page.New(page.Config{
		Store: st, Ward: cfg.Ward.Code, WardName: cfg.Ward.Name, Linker: linker,
		Inbox: cfg.Inbox, Errors: cfg.Folders.Errors, Waiting: cfg.Folders.Waiting,
		SpoolPath:  func(sha string) string { return in.SpoolPath(sha, false) },
		Thumbnails: thumbs, Hosts: cfg.UI.Hosts,
		// The watcher's quiet period, then the check and link.
		Settle: time.Duration(cfg.Watch.Quiet) + 15*time.Second,
		Logger: log,
	})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", cfg.UI.Listen)
	if err != nil {
		// The page is for people; scans are taken and uploaded without it.
		log.Error("the counter's page is not served (ui.listen)", "err", err)
		return nil, nil, nil
	}
	return ln, &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		// A link waits for the daemon to take the renamed file.
		WriteTimeout: time.Duration(cfg.Watch.Quiet) + time.Minute}, nil
}
