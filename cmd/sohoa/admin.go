package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/ingest/store"
)

// withAdmin runs viaDaemon with a client of the running daemon. When no
// daemon runs, nothing holds the database, so direct runs on the store
// opened here instead (only if the database exists: a wrong -config must
// not create an empty one).
func withAdmin(dataDir string, stderr io.Writer, viaDaemon func(*admin.Client) error, direct func(*store.Store) error) error {
	c, err := admin.Dial(dataDir)
	if err == nil {
		return viaDaemon(c)
	}
	if !errors.Is(err, admin.ErrNotRunning) {
		return err
	}
	db := filepath.Join(dataDir, "sohoa.db")
	if _, serr := os.Stat(db); errors.Is(serr, fs.ErrNotExist) {
		return fmt.Errorf("%w, and there is no database at %s (wrong -config?)", err, db)
	}
	st, serr := store.Open(db, time.Second)
	if serr != nil {
		return fmt.Errorf("%w, and its database cannot be opened: %w", err, serr)
	}
	fmt.Fprintf(stderr, "sohoa is not running; using its database %s directly\n", db)
	err = direct(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func short(sha string) string { return sha[:min(12, len(sha))] }

// oneLine makes s safe for one table cell: no control characters, at most
// n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
