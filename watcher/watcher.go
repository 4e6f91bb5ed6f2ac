// Package watcher finds files in a scanner's output folder (the inbox) that
// have stopped changing, and hands them to a Handler, up to Config.Workers at
// a time.
//
// A scanner may spend a minute writing one file, chunk by chunk, so a file is
// offered only after its size, modification time and inode were unchanged for
// Config.Quiet. The inbox and its subfolders are watched with fsnotify and
// also walked in full every Config.Interval, because the kernel drops events
// when its queue overflows and runs out of watches on big trees. Network
// shares give no events at all: there Config.Poll turns fsnotify off and the
// periodic walk is all there is. Either way the same offering rules apply.
//
// The watcher never opens, reads or follows what it finds. It lists folders
// and calls Lstat, so a FIFO cannot block it and a symlink cannot lead it out
// of the inbox. Folders are never offered. Files are offered whatever their
// name or type, except junk (see below): a non-PDF, a FIFO, a socket, a device
// or a symlink reaches the handler, which tells staff what is wrong with it.
//
// Junk, never offered: names starting with "." (files and folders, so also
// .DS_Store), Office lock files "~$*", and files named *.tmp, *.part,
// *.crdownload, Thumbs.db or desktop.ini, compared case-insensitively.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults used for the zero values of Config.Quiet and Config.Interval.
const (
	DefaultQuiet        = 5 * time.Second
	DefaultInterval     = time.Minute      // events mode: the safety-net rescan
	DefaultPollInterval = 10 * time.Second // poll mode: how often the inbox is walked
)

// Config says which folder to watch and how.
type Config struct {
	// Root is the inbox. New creates it (mode 0750) if it is missing, and
	// the watcher creates it again and watches it afresh if it is removed or
	// replaced later (a share remounted).
	Root string
	// Poll turns fsnotify off: the inbox is walked every Interval and
	// nothing else. Use it for SMB and NFS shares, which give no events.
	Poll bool
	// Quiet is how long a file's size, modification time and inode must
	// stay the same before it is offered; ten times as long for an empty
	// file. Zero means DefaultQuiet.
	Quiet time.Duration
	// Interval is the time between full walks: a safety net for lost events
	// in events mode (zero means DefaultInterval), the poll period in poll
	// mode (zero means DefaultPollInterval).
	Interval time.Duration
	// Workers is how many files the handler may have at once (zero means
	// 1). A path is never offered again while the handler has it.
	Workers int
	// Skip, if set, is asked about every folder and file (rel is relative to
	// Root, slash-separated). A skipped folder is neither watched nor walked,
	// a skipped file is never offered. Skip is called from Run's goroutine.
	Skip func(rel string, d fs.DirEntry) bool
	// Noticed, if set, is called from Run's goroutine whenever a file starts
	// or restarts its quiet period: files will be offered soon, and the
	// handler may get ready for them. It must not block.
	Noticed func()
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// File is a file that has stopped changing.
type File struct {
	Path string // absolute path
	Rel  string // path relative to Config.Root, slash-separated
	// Info is from Lstat just before the file was offered. It may describe
	// a FIFO, socket, device or symlink: do not open such a file blindly.
	Info fs.FileInfo
}

// Handler processes one stable file. It is called from Config.Workers
// goroutines, each with one file at a time, in the order files became
// stable, with the context given to Run; never for the same path twice at
// once.
//
// Returning nil means the file is done: it is not offered again unless it
// changes (size, modification time or inode) or disappears and comes back.
// The usual handler moves the file out of the inbox, which is fine. Returning
// an error means "try again later": the file is offered again after the next
// full walk, not before, unless it changes meanwhile.
type Handler func(ctx context.Context, f File) error

// Watcher watches one inbox. Create it with New.
//
// A Watcher is safe for use by several goroutines, but Run works only one at
// a time: a second concurrent call returns an error. What the watcher
// remembers lives in Run and is forgotten when Run returns.
type Watcher struct {
	cfg     Config
	log     *slog.Logger
	running atomic.Bool
	stats   stats
}

// stats count internal activity, for tests.
type stats struct {
	wakeups atomic.Int64 // returns from the main select
	walks   atomic.Int64 // finished full walks
}

// New checks cfg, fills in defaults and creates the inbox if it is missing.
func New(cfg Config) (*Watcher, error) {
	if cfg.Root == "" {
		return nil, errors.New("watcher: no inbox folder given")
	}
	if cfg.Quiet < 0 || cfg.Interval < 0 || cfg.Workers < 0 {
		return nil, fmt.Errorf("watcher: negative quiet (%v), interval (%v) or workers (%d)", cfg.Quiet, cfg.Interval, cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("watcher: inbox %q: %w", cfg.Root, err)
	}
	cfg.Root = root
	if cfg.Quiet == 0 {
		cfg.Quiet = DefaultQuiet
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
		if cfg.Poll {
			cfg.Interval = DefaultPollInterval
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if _, _, err := ensureRoot(root); err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	return &Watcher{cfg: cfg, log: cfg.Logger}, nil
}

// Run watches the inbox and calls h for every file that has become stable,
// until ctx is cancelled. It then waits for a running h to return (h gets
// the same ctx) and returns nil. It returns an error only if it cannot work
// at all.
//
// If fsnotify cannot be set up, or the kernel's watch limit is reached, Run
// logs a warning and carries on, relying on the full walks.
func (w *Watcher) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("watcher: nil handler")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watcher: Run is already running")
	}
	defer w.running.Store(false)

	s := newState(w.cfg, w.log, &w.stats)
	mode := "events"
	if w.cfg.Poll {
		mode = "poll"
	} else if fsw, err := fsnotify.NewWatcher(); err != nil {
		w.log.Warn("file events unavailable; relying on rescans", "interval", w.cfg.Interval, "err", err)
	} else {
		s.fsw = fsw
		defer fsw.Close()
	}
	w.log.Info("watching inbox", "root", w.cfg.Root, "mode", mode, "quiet", w.cfg.Quiet, "interval", w.cfg.Interval)

	// The handlers run on their own goroutines so that events keep being
	// read while they work; at most Workers files are out at a time, so
	// neither channel ever holds more than Workers values and neither side
	// blocks on a send.
	work := make(chan File, w.cfg.Workers)
	results := make(chan result, w.cfg.Workers)
	var workers sync.WaitGroup
	for range w.cfg.Workers {
		workers.Go(func() {
			for f := range work {
				err := ctx.Err()
				if err == nil {
					err = h(ctx, f)
				}
				results <- result{path: f.Path, err: err}
			}
		})
	}
	defer func() {
		close(work)
		workers.Wait()
	}()
	s.work = work

	return s.loop(ctx, results)
}

// ensureRoot stats the inbox, creating it if it is missing.
func ensureRoot(root string) (info fs.FileInfo, created bool, err error) {
	info, err = os.Stat(root) // the inbox itself may be a symlink to a folder
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(root, 0o750); err != nil {
			return nil, false, fmt.Errorf("create inbox: %w", err)
		}
		created = true
		info, err = os.Stat(root)
	}
	if err != nil {
		return nil, created, fmt.Errorf("inbox: %w", err)
	}
	if !info.IsDir() {
		return nil, created, fmt.Errorf("inbox %s is not a folder", root)
	}
	return info, created, nil
}
