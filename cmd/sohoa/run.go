package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/upload"
	"github.com/sohoa/sohoa/metrics"
	"github.com/sohoa/sohoa/watcher"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config `file`; else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults (folders under ./var)")
	if code, ok := parseFlags(fs, args, "sohoa run [-config FILE]", stdout, stderr); !ok {
		return code
	}
	chosen := chooseConfig(*cfgPath, os.Getenv("SOHOA_CONFIG"), systemConfig)
	cfg, err := chosen.load()
	if err != nil {
		fmt.Fprintln(stderr, "sohoa:", err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	from := []any{"from", chosen.String()}
	if files, err := config.Files(chosen.Path); chosen.Path != "" && err == nil && len(files) > 1 {
		from = append(from, "merged", strings.Join(files, " ")) // conf.d's files, then the file itself
	}
	log.Info("configuration", from...)
	if err := daemonMain(ctx, cfg, chosen.Path == "", log); err != nil {
		log.Error("sohoa stopped", "err", err)
		return 1
	}
	return 0
}

// daemonMain wires the parts, runs them until ctx is cancelled, and shuts
// them down in order: the watcher stops taking files, the uploader finishes
// its attempt, the HTTP server and the admin socket drain, the store closes.
func daemonMain(ctx context.Context, cfg config.Config, embedded bool, log *slog.Logger) error {
	log.Info("starting sohoa", "version", buildInfo().Version, "ward", cfg.Ward.Code, "inbox", cfg.Inbox,
		"data_dir", cfg.DataDir, "sink", cfg.Upload.Sink, "listen", cfg.Listen, "watch", cfg.Watch.Mode)
	if embedded && cfg.Upload.Sink == "dir" {
		// The embedded defaults deliver to a local outbox; a configured
		// folder is a mounted share and is never created here, so an
		// unmounted share is not silently filled on the local disk.
		if err := os.MkdirAll(cfg.Upload.Dir.Path, 0o750); err != nil {
			return fmt.Errorf("create outbox: %w", err)
		}
	}
	if embedded {
		// Only the embedded defaults make their inbox (./var/inbox): a
		// configured one must exist (config.Load), so a typo makes nothing.
		if err := os.MkdirAll(cfg.Inbox, 0o750); err != nil {
			return fmt.Errorf("create inbox: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "sohoa.db"), 2*time.Second)
	if err != nil {
		return err
	}
	defer st.Close()
	unlockInbox, err := lockInbox(cfg.Inbox, cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlockInbox()

	grammar, err := dossier.NewGrammar(cfg.Link.Pattern)
	if err != nil {
		return err
	}
	sink, err := newSink(cfg.Upload)
	if err != nil {
		return fmt.Errorf("upload.sink %s: %w", cfg.Upload.Sink, err)
	}
	worker := upload.NewWorker(upload.Worker{
		Queue:       st,
		Sink:        sink,
		Ward:        cfg.Ward.Code,
		Backoff:     province.Backoff{Min: time.Duration(cfg.Upload.Retry.MinBackoff), Max: time.Duration(cfg.Upload.Retry.MaxBackoff)},
		Concurrency: cfg.Upload.Concurrency,
		Logger:      log.With("component", "upload"),
	})
	// IT's commands (`sohoa parked`, `sohoa retry`) reach the daemon here,
	// since it holds the database's lock.
	adm, err := admin.Listen(admin.Config{
		Path:   admin.SocketPath(cfg.DataDir),
		Store:  st,
		Wake:   worker.Wake,
		Logger: log.With("component", "admin"),
		// `sohoa import` and `sohoa report` (the received-dossier registry).
		Ward: cfg.Ward.Code, WardName: cfg.Ward.Name,
	})
	if err != nil {
		return err
	}
	defer adm.Shutdown(context.Background()) //nolint:errcheck // exiting: nothing is left to do about it
	checker, receipts, stopParsers, err := parsers(cfg, grammar, log)
	if err != nil {
		return err
	}
	defer stopParsers()
	var staffFolderReplaced atomic.Pointer[func(string)]
	linker := &ingest.Linker{Grammar: grammar, Ward: cfg.Ward.Code, AcceptForeign: cfg.Link.AcceptForeign, SkipFolder: cfg.Folders.Waiting}
	in, err := ingest.New(ingest.Config{
		Inbox:             cfg.Inbox,
		DataDir:           cfg.DataDir,
		Errors:            cfg.Folders.Errors,
		Waiting:           cfg.Folders.Waiting,
		Linker:            linker,
		Checker:           checker,
		Barcodes:          receipts,
		CheckTimeout:      time.Duration(cfg.Check.Timeout) + time.Minute, // the parser's own limit comes first
		SkipNamedReceipts: cfg.Link.Barcodes == "unnamed",
		DropReceipts:      cfg.Pages.DropReceipts,
		Store:             st,
		MaxBytes:          int64(cfg.Check.MaxBytes),
		Link:              cfg.Watch.Link,
		Queued:            worker.Wake,
		Logger:            log.With("component", "ingest"),
		// Counted once the metrics exist (Recover runs before).
		StaffFolderReplaced: func(f string) {
			if replaced := staffFolderReplaced.Load(); replaced != nil {
				(*replaced)(f)
			}
		},
	})
	if err != nil {
		return err
	}
	if err := in.Recover(ctx); err != nil {
		return fmt.Errorf("recover data dir: %w", err)
	}
	worker.Path = in.ContentPath
	worker.Done = func(j store.Job) {
		if err := in.ArchiveUploaded(j.SHA256); err != nil {
			log.Warn("archive after upload failed; retried at next start", "sha256", j.SHA256, "err", err)
		}
	}

	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{
		Registerer: reg,
		Ward:       cfg.Ward.Code, WardName: cfg.Ward.Name, Build: buildInfo(), Source: st,
		QueueMaxBytes: int64(cfg.Upload.QueueMaxBytes),
		Logger:        log.With("component", "metrics"),
		Registry:      st, // sohoa_dossiers_received_total and the month cohorts
	})
	if err != nil {
		return err
	}
	worker.Observe = m.ObserveUpload
	countReplaced := m.StaffFolderReplaced
	staffFolderReplaced.Store(&countReplaced)
	signing, err := newSigning(cfg, st, reg, log.With("component", "sign"))
	if err != nil {
		return err
	}
	if signing != nil {
		signUploads(worker, signing)
		defer signing.Key.Close()
	}
	pull, err := newPuller(cfg, grammar, st, reg, log.With("component", "registry"))
	if err != nil {
		return err
	}

	// Parser processes start while a new file's quiet period runs, not
	// when the file is taken.
	var noticed func()
	if p, ok := checker.(interface{ Warm() }); ok {
		noticed = p.Warm
	}
	w, err := watcher.New(watcher.Config{
		Root:     cfg.Inbox,
		Poll:     cfg.Watch.Mode == "poll",
		Quiet:    time.Duration(cfg.Watch.Quiet),
		Interval: time.Duration(cfg.Watch.Rescan),
		Workers:  cfg.Watch.Workers,
		Skip:     func(rel string, d fs.DirEntry) bool { return in.Skip(rel, d.IsDir()) },
		Noticed:  noticed,
		Logger:   log.With("component", "watcher"),
	})
	if err != nil {
		return err
	}

	var ready atomic.Bool
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen for metrics: %w", err)
	}
	srv := &http.Server{
		Handler: m.Handler(func() error {
			if !ready.Load() {
				return errors.New("starting")
			}
			if signing != nil {
				return signing.Ready()
			}
			return nil
		}),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
	}

	// The counter's page (ui.listen), for the clerk on this PC.
	pageLn, pageSrv, err := newPage(cfg, st, in, linker, checker, log.With("component", "page"))
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 6)
	goRun := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	goRun("metrics server", func() error {
		if err := serveMetrics(ln, srv, cfg.WebConfig, log.With("component", "metrics")); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if pageSrv != nil {
		goRun("page server", func() error {
			if err := serveMetrics(pageLn, pageSrv, cfg.UI.WebConfig, log.With("component", "page")); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	goRun("admin server", adm.Serve)
	goRun("upload", func() error { return worker.Run(ctx) })
	// Parsing a burst of scans grows the heap; once the counter goes quiet,
	// hand it back so an idle daemon stays small on a desktop PC.
	release := time.AfterFunc(time.Hour, debug.FreeOSMemory)
	release.Stop()
	defer release.Stop()
	// While the sink is down the queue grows up to its cap; past it, new
	// scans stay in the inbox and are offered again at the next rescan.
	capacity := &upload.QueueCap{Stats: st.Stats, Max: int64(cfg.Upload.QueueMaxBytes), Logger: log.With("component", "upload")}
	goRun("watcher", func() error {
		return w.Run(ctx, func(ctx context.Context, f watcher.File) error {
			if f.Info.Size() <= int64(cfg.Check.MaxBytes) { // a larger file is rejected unread: no queue space
				admitted, err := capacity.Admit(f.Info.Size())
				if err != nil {
					return err
				}
				defer admitted()
			}
			defer release.Reset(10 * time.Second)
			return in.Ingest(ctx, f.Path, f.Rel, f.Info)
		})
	})
	goRun("archive", func() error { return prune(ctx, in, time.Duration(cfg.Archive.Retention), log) })
	goRun("waiting scans", func() error {
		reconcile(ctx, in, st, time.Duration(cfg.Watch.Rescan), max(time.Minute, 2*time.Duration(cfg.Watch.Quiet)), log)
		return nil
	})
	if pull != nil {
		goRun("registry pull", func() error { pull(ctx); return nil })
	}

	ready.Store(true)
	notify(log, daemon.SdNotifyReady)
	log.Info("sohoa ready", "metrics", metricsURL(ln.Addr(), cfg.WebConfig))
	if pageLn != nil {
		log.Info("counter page ready", "url", strings.TrimSuffix(metricsURL(pageLn.Addr(), cfg.UI.WebConfig), "metrics"))
	}
	watchdog(ctx, st, log)

	<-ctx.Done()
	notify(log, daemon.SdNotifyStopping)
	log.Info("shutting down")
	ready.Store(false)
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer shutCancel()
	_ = srv.Shutdown(shutCtx)
	if pageSrv != nil {
		_ = pageSrv.Shutdown(shutCtx)
	}
	_ = adm.Shutdown(shutCtx)
	wg.Wait()
	close(errc)
	return <-errc // nil when every part stopped cleanly
}

// prune removes archived copies past their retention once a day.
func prune(ctx context.Context, in *ingest.Ingester, retention time.Duration, log *slog.Logger) error {
	if retention <= 0 {
		return nil
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := in.Prune(ctx, retention)
		if err != nil {
			log.Warn("pruning the archive failed", "err", err)
		} else if n > 0 {
			log.Info("archive pruned", "files", n, "retention", retention)
		}
		t.Reset(24 * time.Hour)
	}
}

// reconcile looks, every interval while some scan waits for a person, for
// waiting scans whose file staff removed from the inbox (Ingester.Reconcile),
// so that sohoa_scans_unlinked stays true. With no scan waiting it reads
// only the counters. Every interval it also removes the notes whose file
// staff deleted, and writes again the notes staff deleted beside a file
// that still waits (Ingester.TidyNotes).
func reconcile(ctx context.Context, in *ingest.Ingester, st *store.Store, every, grace time.Duration, log *slog.Logger) {
	tick(ctx, every, func() {
		if _, _, err := in.TidyNotes(); err != nil && ctx.Err() == nil {
			log.Warn("tidying the notes in the staff folders failed", "err", err)
		}
		if s, err := st.Stats(); err != nil || s.Unlinked == 0 {
			return
		}
		if _, err := in.Reconcile(ctx, grace); err != nil && ctx.Err() == nil {
			log.Warn("checking waiting scans against the inbox failed", "err", err)
		}
	})
}

// watchdog pings systemd's watchdog while the store answers, from a
// goroutine that ends with ctx. Without WATCHDOG_USEC it does nothing.
func watchdog(ctx context.Context, st *store.Store, log *slog.Logger) {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		return
	}
	go tick(ctx, every/3, func() {
		if _, err := st.Stats(); err != nil {
			log.Error("store does not answer; withholding watchdog ping", "err", err)
			return
		}
		notify(log, daemon.SdNotifyWatchdog)
	})
}

// tick calls fn every d until ctx ends.
func tick(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// barcodeReader returns the receipt reader for link.barcodes, nil when off.
func barcodeReader(mode string, g *dossier.Grammar) ingest.BarcodeReader {
	if mode == "off" {
		return nil
	}
	return &barcode.Reader{Grammar: g}
}
