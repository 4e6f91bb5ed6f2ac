package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

// missingScans remembers, between calls of Reconcile, since when the file
// of each waiting scan has been missing from its place.
type missingScans struct {
	mu    sync.Mutex
	since map[string]missing // by SHA-256
}

type missing struct {
	place string
	since time.Time
}

// forget drops what was seen of sha's file missing: the file was just
// offered from the inbox, so any earlier absence is stale (it may be back
// at the very place it was missing from).
func (m *missingScans) forget(sha string) {
	m.mu.Lock()
	delete(m.since, sha)
	m.mu.Unlock()
}

// Reconcile looks for waiting scans whose file staff removed from the
// waiting folder without linking it (deleted it, moved it out of the
// inbox, or saved another file over it), so that sohoa_scans_unlinked
// counts only scans a person can still act on. A scan counts as abandoned
// (store.Abandon) once its file has been missing from its place (its
// folder still there: an inbox on a share that is not mounted proves
// nothing) in two calls at least grace apart, and no file of its size is
// anywhere in the inbox outside the errors folder (a file renamed or moved
// within the inbox keeps its size, and is linked or held again when the
// watcher offers it). Nothing is deleted: a file put back is offered again
// and waits, or is linked, as before. It returns how many scans it marked
// abandoned.
func (in *Ingester) Reconcile(ctx context.Context, grace time.Duration) (int, error) {
	all, err := in.cfg.Store.WaitingScans()
	if err != nil {
		return 0, fmt.Errorf("reconcile waiting scans: %w", err)
	}
	var waiting []store.Scan
	for _, sc := range all {
		if sc.Settled && sc.Place != "" && !sc.Gone {
			waiting = append(waiting, sc)
		}
	}
	now := in.cfg.Now()
	due, err := in.missing.due(ctx, in.cfg.Inbox, waiting, now, grace)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	sizes, err := in.inboxSizes(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range due {
		if sizes[d.sc.Size] {
			continue // perhaps this very file, under another name: wait for the watcher
		}
		done, err := in.abandon(d)
		if err != nil {
			return n, err
		}
		if done {
			n++
			in.cfg.Logger.Info("waiting scan's file removed from the inbox without a dossier code; counted as abandoned",
				"sha256", d.sc.SHA256, "place", d.sc.Place, "missing_since", d.since)
		}
	}
	return n, nil
}

type dueScan struct {
	sc    store.Scan
	since time.Time // first seen missing
}

// due notes which of the waiting scans' files are missing from their place,
// and returns those missing since grace or longer.
func (m *missingScans) due(ctx context.Context, inbox string, waiting []store.Scan, now time.Time, grace time.Duration) ([]dueScan, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.since == nil {
		m.since = make(map[string]missing)
	}
	seen := make(map[string]bool, len(waiting))
	var due []dueScan
	for _, sc := range waiting {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seen[sc.SHA256] = true
		p := filepath.Join(inbox, filepath.FromSlash(sc.Place))
		if !gone(p, sc.Size) {
			delete(m.since, sc.SHA256) // there, or not knowable: still waiting
			continue
		}
		e, ok := m.since[sc.SHA256]
		if !ok || e.place != sc.Place {
			m.since[sc.SHA256] = missing{place: sc.Place, since: now}
			continue
		}
		if now.Sub(e.since) >= grace {
			due = append(due, dueScan{sc: sc, since: e.since})
		}
	}
	for sha := range m.since {
		if !seen[sha] {
			delete(m.since, sha) // linked, or abandoned, meanwhile
		}
	}
	return due, nil
}

// gone reports whether the file of size bytes once at p is known to be
// gone: nothing is at p, but its folder is there, or a file of another size
// is (another scan saved over it under the same name, or staff edited it:
// either way its content is no longer in the inbox, and the file there now
// is a scan of its own). A missing folder is not taken as proof (a share
// not mounted looks the same as a folder deleted), nor is any other error.
func gone(p string, size int64) bool {
	fi, err := os.Lstat(p)
	if err == nil {
		return fi.Mode().IsRegular() && fi.Size() != size
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	fi, err = os.Stat(filepath.Dir(p))
	return err == nil && fi.IsDir()
}

// abandon records d's scan as abandoned, unless its file was offered again
// since it was found missing (Ingest holds the content's lock while it
// handles a file, and forgets the absence then).
func (in *Ingester) abandon(d dueScan) (bool, error) {
	unlock := in.contents.lock(d.sc.SHA256)
	defer unlock()
	in.missing.mu.Lock()
	e, ok := in.missing.since[d.sc.SHA256]
	if ok && e.since.Equal(d.since) && e.place == d.sc.Place {
		delete(in.missing.since, d.sc.SHA256)
	} else {
		ok = false
	}
	in.missing.mu.Unlock()
	if !ok {
		return false, nil
	}
	return in.cfg.Store.Abandon(d.sc.SHA256, d.sc.Place)
}

// inboxSizes returns the sizes of the regular files in the inbox, the
// errors folder left out (its files are never offered again).
func (in *Ingester) inboxSizes(ctx context.Context) (map[int64]bool, error) {
	errorsDir := filepath.Join(in.cfg.Inbox, in.cfg.Errors)
	sizes := make(map[int64]bool)
	err := filepath.WalkDir(in.cfg.Inbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == in.cfg.Inbox {
				return err
			}
			return nil // a folder we may not read holds nothing we offer either
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() && p == errorsDir {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				sizes[fi.Size()] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk the inbox: %w", err)
	}
	return sizes, nil
}
