package atomicfile

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteContentAndPerm: the mode is set exactly, so 0660 stays 0660
// under the usual umask 022.
func TestWriteContentAndPerm(t *testing.T) {
	for _, perm := range []fs.FileMode{0o600, 0o660, 0o644} {
		for name, write := range map[string]func(string, []byte, fs.FileMode) error{"Write": Write, "Replace": Replace} {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.txt")
			if err := os.WriteFile(p, []byte("old content, longer than the new"), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := write(p, []byte("new"), perm); err != nil {
				t.Fatalf("%s %v: %v", name, perm, err)
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, []byte("new")) {
				t.Errorf("%s %v: content %q, %v", name, perm, got, err)
			}
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != perm {
				t.Errorf("%s: mode %v, want %v (%v)", name, fi.Mode().Perm(), perm, err)
			}
			onlyFile(t, dir, "f.txt")
		}
	}
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new.pdf")
	if err := Write(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != 0 {
		t.Fatalf("%v %v", fi, err)
	}
	onlyFile(t, dir, "new.pdf")
}

func TestWriteFailures(t *testing.T) {
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("write into a missing folder: no error")
	}
	// The rename fails: the target is a folder that is not empty. The
	// folder stays, and no temporary file is left beside it.
	target := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, write := range []func(string, []byte, fs.FileMode) error{Write, Replace} {
		if err := write(target, []byte("x"), 0o600); err == nil {
			t.Error("write over a folder: no error")
		}
		if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
			t.Errorf("target changed: %v %v", fi, err)
		}
		onlyFile(t, dir, "busy")
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Error(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing folder: no error")
	}
}

// onlyFile fails unless dir holds exactly name.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want only %s", dir, names, name)
	}
}

// TestRemoveTemps removes what a killed write left, and only that.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte("kept"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, tempPattern) // as Replace leaves it when killed
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n, err := RemoveTemps(dir); n != 1 || err != nil {
		t.Errorf("RemoveTemps = %d, %v; want 1, nil", n, err)
	}
	onlyFile(t, dir, "note.txt")
	if n, err := RemoveTemps(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("RemoveTemps on a missing folder = %d, %v", n, err)
	}
}
