//go:build linux

package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/store"
)

// record returns the one scan recorded.
func (f *fixture) record() store.Scan {
	f.t.Helper()
	var scans []store.Scan
	f.st.Scans(func(sc store.Scan) bool { scans = append(scans, sc); return true })
	if len(scans) != 1 {
		f.t.Fatalf("%d scans recorded, want 1", len(scans))
	}
	return scans[0]
}

// TestTakeByLinkOrCopy: a scan the daemon owns, with one name, that no
// program holds open for writing, is taken by a hard link (its bytes are
// not written a second time); in every other case it is copied. Either
// way the spool holds the scan's bytes, read-only for others, and the
// inbox file is gone.
func TestTakeByLinkOrCopy(t *testing.T) {
	name := "000.00.12.H57-200320-0001.pdf"
	for _, tc := range []struct {
		what   string
		link   bool
		before func(t *testing.T, f *fixture, p string) (undo func())
		linked bool
	}{
		{"own file", true, nil, true},
		{"links off (watch.link: false)", false, nil, false},
		{"open for writing", true, func(t *testing.T, f *fixture, p string) func() {
			w, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			return func() { w.Close() }
		}, false},
		{"a second name elsewhere", true, func(t *testing.T, f *fixture, p string) func() {
			if err := os.Link(p, filepath.Join(f.data, "other-name.pdf")); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, false},
	} {
		t.Run(tc.what, func(t *testing.T) {
			f := newFixture(t)
			f.in.cfg.Link = tc.link
			p := f.drop(name, name)
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				defer tc.before(t, f, p)()
			}
			if err := f.ingest(name); err != nil {
				t.Fatal(err)
			}
			if exists(p) {
				t.Error("the scan is still in the inbox")
			}
			sc := f.record()
			if sc.State != store.Queued {
				t.Fatalf("state %s (%s), want queued", sc.State, sc.Reason)
			}
			sp := f.in.SpoolPath(sc.SHA256, false)
			spooled, err := os.Stat(sp)
			if err != nil {
				t.Fatal(err)
			}
			if got := os.SameFile(spooled, orig); got != tc.linked {
				t.Errorf("spool file is the inbox file's inode: %v, want %v", got, tc.linked)
			}
			if m := spooled.Mode().Perm(); m != 0o640 {
				t.Errorf("spool file mode %v, want 0640", m)
			}
			if got, _ := os.ReadFile(sp); !bytes.Equal(got, want) {
				t.Error("spool bytes differ from the scan's")
			}
			if entries, _ := os.ReadDir(filepath.Join(f.data, "spool")); len(entries) != 1 {
				t.Errorf("the spool holds %d files, want the scan alone", len(entries))
			}
		})
	}
}

// TestWaitingScanGetsItsOwnSpoolCopy: a scan without a code waits in the
// staff folder, where staff may open and even change it; the spool keeps
// the bytes as they were taken, not a second name of the staff's file.
func TestWaitingScanGetsItsOwnSpoolCopy(t *testing.T) {
	f := newFixture(t)
	p := f.drop("scan_0009.pdf", "scan_0009.pdf")
	orig, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ingest("scan_0009.pdf"); err != nil {
		t.Fatal(err)
	}
	sc := f.record()
	if sc.State != store.Waiting {
		t.Fatalf("state %s, want waiting", sc.State)
	}
	sp := f.in.SpoolPath(sc.SHA256, false)
	spooled, err := os.Stat(sp)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(spooled, orig) {
		t.Fatal("the spool file is the staff folder's file")
	}
	staff := filepath.Join(f.inbox, filepath.FromSlash(sc.Place))
	if err := os.WriteFile(staff, []byte("staff overwrote it"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != sc.SHA256 {
		t.Error("the spool's bytes changed with the staff folder's file")
	}
	if m := spooled.Mode().Perm(); m != 0o640 {
		t.Errorf("spool file mode %v, want 0640", m)
	}
}

// TestLinkedTakeSeesLaterChange: a program that opens the file after it
// was linked and changes it (appends, or saves it again from the start) is
// caught before anything is recorded, in whatever state the scan was to be
// recorded, and whether the hash had ended or not: the hash or the claim
// reports ErrBusy (never a crash on a file cut short), the spool keeps
// nothing of it, and the inbox file stays to be taken again.
func TestLinkedTakeSeesLaterChange(t *testing.T) {
	name := "000.00.12.H57-200320-0001.pdf"
	changes := map[string]func(t *testing.T, p string){
		"grown": func(t *testing.T, p string) {
			w, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("more"))
			w.Close()
		},
		"cut short": func(t *testing.T, p string) {
			if err := os.Truncate(p, 1000); err != nil {
				t.Fatal(err)
			}
		},
	}
	for what, change := range changes {
		for _, state := range []store.State{store.Queued, store.Waiting, store.Split} {
			for _, hashed := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/hashed=%v", what, state, hashed), func(t *testing.T) {
					f := newFixture(t)
					p := f.drop(name, name)
					info, err := os.Lstat(p)
					if err != nil {
						t.Fatal(err)
					}
					ctx := context.Background()
					tk, err := f.in.take(ctx, p, info)
					if err != nil {
						t.Fatal(err)
					}
					defer os.Remove(tk.tmp)
					if tk.shared == nil {
						t.Fatal("not taken by a link")
					}
					if !hashed {
						change(t, p) // the hash may be under way
					}
					sha, err := tk.sum()
					if err == nil {
						if err := tk.synced(); err != nil {
							t.Fatal(err)
						}
						if err := os.Rename(tk.tmp, f.in.SpoolPath(sha, false)); err != nil {
							t.Fatal(err)
						}
						if hashed {
							change(t, p)
						}
						err = f.in.claim(ctx, tk.shared, sha, state)
					}
					tk.synced()
					if !errors.Is(err, ErrBusy) {
						t.Fatalf("got %v, want ErrBusy", err)
					}
					if entries, _ := os.ReadDir(filepath.Join(f.data, "spool")); len(entries) > 1 || len(entries) == 1 && entries[0].Name() != filepath.Base(tk.tmp) {
						t.Errorf("the spool keeps %d files", len(entries))
					}
					if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
						t.Error("the inbox file is gone")
					}
				})
			}
		}
	}
}
