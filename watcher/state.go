package watcher

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// phase is where a file is in its life: pending → queued → inflight → done
// (or failed), and back to pending whenever it is seen to change.
type phase uint8

const (
	pending  phase = iota // changing or newly seen: waiting to stay unchanged for Quiet
	queued                // stable, waiting for the handler
	inflight              // with the handler
	done                  // handled: not offered again while its stamp stays the same
	failed                // the handler failed: offered again after the next full walk
)

// stamp is what must stay the same for a file to count as unchanged.
type stamp struct {
	size  int64
	mtime int64 // Unix nanoseconds
	id    fileID
}

func stampOf(info fs.FileInfo) stamp {
	return stamp{size: info.Size(), mtime: info.ModTime().UnixNano(), id: idOf(info)}
}

type entry struct {
	path, rel string
	st        stamp // as last observed; for queued and later, as offered
	phase     phase
	due       time.Time // pending: when it counts as stable if still unchanged
	seen      uint64    // the walk generation that last saw it
	moved     bool      // inflight: it changed or vanished while the handler had it
}

// state is everything Run knows. It is owned by the goroutine running loop.
type state struct {
	cfg   Config
	log   *slog.Logger
	stats *stats
	fsw   *fsnotify.Watcher // nil in poll mode or when inotify is unavailable
	work  chan<- File       // to the handler goroutines; never blocks (see Run)

	files      map[string]*entry // by absolute path
	dirs       map[string]uint64 // watched folders → generation that last saw them
	unreadable map[string]uint64 // folders whose read error was logged → generation
	queue      []string          // paths of stable files, oldest first; may hold stale paths
	inflight   int               // files with the handlers
	gen        uint64            // full walk counter
	walking    bool              // a full walk is in progress
	rootID     fileID            // identity of the inbox folder at the last walk
	rootErr    bool              // the inbox error was logged
	limitHit   bool              // the inotify watch limit warning was logged

	quiet   *time.Timer // fires when the earliest pending file may be stable
	quietAt time.Time   // when quiet fires; zero when it is stopped
	rescan  *time.Timer // fires for the next full walk
}

func newState(cfg Config, log *slog.Logger, st *stats) *state {
	s := &state{
		cfg:        cfg,
		log:        log,
		stats:      st,
		files:      make(map[string]*entry),
		dirs:       make(map[string]uint64),
		unreadable: make(map[string]uint64),
		quiet:      time.NewTimer(time.Hour),
		rescan:     time.NewTimer(cfg.Interval),
	}
	s.quiet.Stop()
	return s
}

// loop is the only goroutine that touches s. An idle watcher sleeps in the
// select until the next full walk: the quiet timer runs only while some file
// is pending.
func (s *state) loop(ctx context.Context, results <-chan result) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if s.fsw != nil {
		events, errs = s.fsw.Events, s.fsw.Errors
	}
	s.walk(ctx)
	for {
		s.dispatch()
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("watcher: fsnotify stopped delivering events")
			}
			s.event(ctx, ev)
		case err, ok := <-errs:
			if !ok {
				return errors.New("watcher: fsnotify stopped delivering errors")
			}
			s.watchError(err)
		case <-s.quiet.C:
			s.settle()
		case <-s.rescan.C:
			s.walk(ctx)
		case r := <-results:
			s.finished(r)
		}
		s.stats.wakeups.Add(1)
	}
}

// walk lists the whole inbox: it finds what events missed, re-creates and
// re-watches a vanished or replaced inbox, retries failed files and forgets
// paths that no longer exist. A cancelled walk stops early and forgets
// nothing.
func (s *state) walk(ctx context.Context) {
	defer s.rescan.Reset(s.cfg.Interval)
	s.gen++
	root := s.cfg.Root
	info, created, err := ensureRoot(root)
	if err != nil {
		if !s.rootErr {
			s.log.Error("cannot use the inbox; retrying at every rescan", "root", root, "err", err)
			s.rootErr = true
		}
		return // keep what we know: it may be a passing share outage
	}
	if s.rootErr {
		s.log.Info("inbox usable again", "root", root)
		s.rootErr = false
	}
	if created {
		s.log.Warn("inbox folder was missing; created it again", "root", root)
	}
	if id := idOf(info); id != s.rootID {
		if s.rootID != (fileID{}) {
			s.log.Warn("inbox folder was replaced; watching it afresh", "root", root)
			for d := range s.dirs {
				s.unwatch(d)
			}
		}
		s.rootID = id
	}

	s.walking = true
	s.scanDir(ctx, root)
	s.walking = false
	if ctx.Err() != nil {
		return
	}

	for p, e := range s.files {
		if e.seen != s.gen {
			s.drop(p)
		}
	}
	for d, g := range s.unreadable {
		if g != s.gen {
			delete(s.unreadable, d)
		}
	}
	stale := false
	for d, g := range s.dirs {
		if g != s.gen {
			s.unwatch(d)
			stale = true
		}
	}
	if stale {
		// A folder moved while events were lost keeps its kernel watch under
		// the old name, and adding the new name reuses that watch; removing
		// the old name just removed it, so add the live folders again.
		for d := range s.dirs {
			s.addWatch(d)
		}
	}
	s.stats.walks.Add(1)
}

// scanDir watches dir, then lists it, observing its files and descending into
// its subfolders. Watching first means nothing created after the listing is
// missed.
func (s *state) scanDir(ctx context.Context, dir string) {
	if ctx.Err() != nil {
		return
	}
	s.watch(dir)
	entries, err := os.ReadDir(dir) // on error, it still returns what it read
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		if _, logged := s.unreadable[dir]; !logged {
			s.log.Warn("cannot read folder; skipping it until it can be read", "path", dir, "err", err)
		}
		s.unreadable[dir] = s.gen
		s.keepUnder(dir) // what we knew in there is unknown now, not gone
	default:
		if _, logged := s.unreadable[dir]; logged {
			s.log.Info("folder can be read again", "path", dir)
			delete(s.unreadable, dir)
		}
	}
	for _, d := range entries {
		p := filepath.Join(dir, d.Name())
		rel := s.rel(p)
		if s.ignored(rel, d) {
			continue
		}
		if d.IsDir() { // false for a symlink: never followed
			s.scanDir(ctx, p)
			continue
		}
		info, err := d.Info() // Lstat
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.log.Debug("cannot stat file", "path", p, "err", err)
			}
			continue
		}
		s.observe(p, rel, info)
	}
}

// keepUnder marks everything known below dir as seen by this walk.
func (s *state) keepUnder(dir string) {
	prefix := dir + string(filepath.Separator)
	for p, e := range s.files {
		if strings.HasPrefix(p, prefix) {
			e.seen = s.gen
		}
	}
	for d := range s.dirs {
		if strings.HasPrefix(d, prefix) {
			s.dirs[d] = s.gen
		}
	}
}

// event handles one fsnotify event: it only says where to look; Lstat says
// what is there.
func (s *state) event(ctx context.Context, ev fsnotify.Event) {
	p := filepath.Clean(ev.Name)
	if p == s.cfg.Root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			// A new inbox may get the old one's inode number, so its identity
			// cannot tell: forget every watch now, the walk adds them again.
			s.log.Warn("inbox folder removed or moved away; rescanning", "root", p)
			for d := range s.dirs {
				s.unwatch(d)
			}
			s.rescan.Reset(0)
		}
		return
	}
	if _, ok := s.dirs[filepath.Dir(p)]; !ok {
		return // from a folder we no longer watch
	}
	info, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.forget(p)
		} else {
			s.log.Debug("cannot stat file", "path", p, "err", err)
		}
		return
	}
	rel := s.rel(p)
	if s.ignored(rel, fs.FileInfoToDirEntry(info)) {
		return
	}
	if info.IsDir() {
		s.drop(p) // in case a file of that name was replaced by a folder
		if ev.Has(fsnotify.Create) {
			s.scanDir(ctx, p) // a new folder, or one moved in whole with files in it
		}
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		s.drop(p) // it went away and is back: a new file, whatever its stamp
	}
	s.observe(p, rel, info)
}

func (s *state) watchError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.log.Warn("file events were lost; rescanning the inbox", "err", err)
		s.rescan.Reset(0)
		return
	}
	s.log.Warn("file watch error", "err", err)
}

// observe records that the file at p looks like info now.
func (s *state) observe(p, rel string, info fs.FileInfo) {
	st := stampOf(info)
	e := s.files[p]
	if e == nil {
		e = &entry{path: p, rel: rel}
		s.files[p] = e
		s.pend(e, st)
	}
	e.seen = s.gen
	changed := st != e.st
	switch e.phase {
	case pending, queued, done:
		if changed {
			s.pend(e, st) // a queued path left in the queue is skipped by dispatch
		}
	case inflight:
		e.moved = e.moved || changed
	case failed:
		if changed || s.walking {
			s.pend(e, st)
		}
	}
}

// emptyQuiet is how many quiet periods an empty file waits: a scanner may
// create its file well before it writes the first page, and an empty file
// taken is rejected and moved away while the scanner writes on into it.
const emptyQuiet = 10

// pend (re)starts e's quiet period from now.
func (s *state) pend(e *entry, st stamp) {
	quiet := s.cfg.Quiet
	if st.size == 0 {
		quiet *= emptyQuiet
	}
	e.st, e.phase, e.due = st, pending, time.Now().Add(quiet)
	s.armQuiet(e.due)
	if s.cfg.Noticed != nil {
		s.cfg.Noticed()
	}
}

func (s *state) armQuiet(at time.Time) {
	if !s.quietAt.IsZero() && !at.Before(s.quietAt) {
		return
	}
	s.quietAt = at
	s.quiet.Reset(time.Until(at))
}

// settle runs when the quiet timer fires: pending files whose quiet period is
// over are checked once more and queued if they did not change.
func (s *state) settle() {
	s.quietAt = time.Time{}
	now := time.Now()
	// Files due a little later are left for the next firing, which is not
	// earlier than a tenth of Quiet from now: a walk that found thousands of
	// files wakes the loop a few times, not once per file.
	grain := now.Add(s.cfg.Quiet / 10)
	var due []*entry
	for _, e := range s.files {
		if e.phase != pending {
			continue
		}
		if e.due.After(now) {
			s.armQuiet(latest(e.due, grain))
			continue
		}
		due = append(due, e)
	}
	slices.SortFunc(due, func(a, b *entry) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	for _, e := range due {
		info, err := os.Lstat(e.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			delete(s.files, e.path)
		case err != nil:
			s.log.Debug("cannot stat file", "path", e.path, "err", err)
			s.pend(e, e.st)
		case stampOf(info) != e.st:
			s.pend(e, stampOf(info))
		default:
			e.phase = queued
			s.queue = append(s.queue, e.path)
		}
	}
}

// dispatch hands the oldest stable files to the handlers while one is idle.
// A file is checked once more: it may have waited in the queue a while.
func (s *state) dispatch() {
	for s.inflight < s.cfg.Workers && len(s.queue) > 0 {
		p := s.queue[0]
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		e := s.files[p]
		if e == nil || e.phase != queued {
			continue // changed or gone since it was queued
		}
		info, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			delete(s.files, p)
		case err != nil:
			s.log.Debug("cannot stat file", "path", p, "err", err)
			s.pend(e, e.st)
		case stampOf(info) != e.st:
			s.pend(e, stampOf(info))
		default:
			e.phase, e.moved = inflight, false
			s.inflight++
			s.log.Debug("offering file", "rel", e.rel, "size", info.Size(), "mode", info.Mode().String())
			s.work <- File{Path: p, Rel: e.rel, Info: info}
		}
	}
}

// result is a handler's verdict on the file at path.
type result struct {
	path string
	err  error
}

// finished records a handler's verdict on a file in flight.
func (s *state) finished(r result) {
	s.inflight--
	e, herr := s.files[r.path], r.err
	if e == nil || e.phase != inflight {
		s.log.Error("watcher: a result for a file not in flight", "path", r.path)
		return
	}
	info, err := os.Lstat(e.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		delete(s.files, e.path) // moved out of the inbox, as the handler usually does
	case herr != nil:
		s.log.Debug("handler failed; offering the file again after the next rescan", "rel", e.rel, "err", herr)
		e.phase = failed
	case err == nil && (e.moved || stampOf(info) != e.st):
		s.pend(e, stampOf(info)) // changed or replaced while handled: a new version
	default:
		e.phase = done
	}
}

// forget drops what is known about p, which no longer exists, and about
// everything below it if it was a watched folder.
func (s *state) forget(p string) {
	s.drop(p)
	if _, ok := s.dirs[p]; !ok {
		return
	}
	prefix := p + string(filepath.Separator)
	for q := range s.files {
		if strings.HasPrefix(q, prefix) {
			s.drop(q)
		}
	}
	for d := range s.dirs {
		if d == p || strings.HasPrefix(d, prefix) {
			s.unwatch(d)
		}
	}
}

// drop forgets the file at p; the file in flight is only marked, so that
// finished knows a file at that path now is a new one.
func (s *state) drop(p string) {
	e := s.files[p]
	switch {
	case e == nil:
	case e.phase == inflight:
		e.moved = true
	default:
		delete(s.files, p)
	}
}

// watch adds an fsnotify watch on dir unless it has one.
func (s *state) watch(dir string) {
	if s.fsw == nil {
		return
	}
	if _, ok := s.dirs[dir]; ok {
		s.dirs[dir] = s.gen
		return
	}
	s.addWatch(dir)
}

func (s *state) addWatch(dir string) {
	err := s.fsw.Add(dir)
	switch {
	case err == nil:
		s.dirs[dir] = s.gen
	case errors.Is(err, syscall.ENOSPC):
		if !s.limitHit {
			s.log.Warn("inotify watch limit reached; new files in some folders are found by rescans only (raise fs.inotify.max_user_watches)",
				"path", dir, "interval", s.cfg.Interval)
			s.limitHit = true
		}
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		// gone, or unreadable: scanDir says so once
	default:
		s.log.Debug("cannot watch folder", "path", dir, "err", err)
	}
}

func (s *state) unwatch(dir string) {
	delete(s.dirs, dir)
	if s.fsw != nil {
		// The kernel drops the watch of a deleted folder by itself, so this
		// often has nothing to remove.
		_ = s.fsw.Remove(dir)
	}
}

// ignored reports whether d, at rel, is junk or skipped.
func (s *state) ignored(rel string, d fs.DirEntry) bool {
	name := d.Name()
	if strings.HasPrefix(name, ".") {
		return true
	}
	if !d.IsDir() && junk(name) {
		return true
	}
	return s.cfg.Skip != nil && s.cfg.Skip(rel, d)
}

// junk reports whether a file name is one that scanners, browsers, Office,
// Windows and macOS leave behind (hidden names are handled by the caller).
func junk(name string) bool {
	if strings.HasPrefix(name, "~$") {
		return true
	}
	lower := strings.ToLower(name)
	switch lower {
	case "thumbs.db", "desktop.ini":
		return true
	}
	switch filepath.Ext(lower) {
	case ".tmp", ".part", ".crdownload":
		return true
	}
	return false
}

func (s *state) rel(p string) string {
	r, err := filepath.Rel(s.cfg.Root, p)
	if err != nil {
		return p // cannot happen: p is always below Root
	}
	return filepath.ToSlash(r)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
