//go:build unix

package watcher

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNonRegularFilesOfferedNotFollowed(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		h := start(t, cfg, nil)
		outside := t.TempDir()
		write(t, filepath.Join(outside, "secret.pdf"), "not for the inbox")

		if err := syscall.Mkfifo(h.path("pipe.pdf"), 0o640); err != nil {
			t.Fatal(err)
		}
		links := map[string]string{
			"out":          outside, // a folder outside the inbox: not descended
			"secret.pdf":   filepath.Join(outside, "secret.pdf"),
			"loop-a":       "loop-b",
			"loop-b":       "loop-a",
			"dangling.pdf": "/nonexistent/scan.pdf",
			"self":         ".", // a link to the inbox itself
		}
		for name, target := range links {
			if err := os.Symlink(target, h.path(name)); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]fs.FileMode{"pipe.pdf": fs.ModeNamedPipe}
		for name := range links {
			want[name] = fs.ModeSymlink
		}
		if sock := h.path("scan.sock"); len(sock) < 100 { // sun_path is short
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			want["scan.sock"] = fs.ModeSocket
		}
		for name, mode := range want {
			if o := h.wait(name, 1)[0]; o.Info.Mode().Type() != mode {
				t.Errorf("%s offered with mode %v, want type %v", name, o.Info.Mode(), mode)
			}
		}
		// Files keep flowing after the odd ones.
		write(t, h.path("after.pdf"), "after")
		h.wait("after.pdf", 1)
		h.quiesce()
		for _, rel := range h.rels() {
			if strings.Contains(rel, "/") {
				t.Errorf("offered %s: followed a symlink", rel)
			}
		}
		if got := len(h.rels()); got != len(want)+1 {
			t.Errorf("offered %q, want each of %d files once", h.rels(), len(want)+1)
		}
	})
}

func TestUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every folder")
	}
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Interval = 300 * time.Millisecond
		write(t, filepath.Join(cfg.Root, "locked", "a.pdf"), "a")
		locked := filepath.Join(cfg.Root, "locked")
		if err := os.Chmod(locked, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(locked, 0o750) })
		h := start(t, cfg, nil)
		write(t, h.path("ok.pdf"), "ok")
		h.wait("ok.pdf", 1)
		h.quiesce()
		if n := h.logs.count("cannot read folder"); n != 1 {
			t.Errorf("logged the unreadable folder %d times, want once", n)
		}
		if err := os.Chmod(locked, 0o750); err != nil {
			t.Fatal(err)
		}
		h.wait("locked/a.pdf", 1) // found by the next walk
	})
}

// TestPollModeUsesNoInotify counts this process's inotify descriptors.
func TestPollModeUsesNoInotify(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux only")
	}
	count := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc:", err)
		}
		n := 0
		for _, fd := range fds {
			if target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); target == "anon_inode:inotify" {
				n++
			}
		}
		return n
	}
	modes(t, func(t *testing.T, cfg Config) {
		before := count()
		h := start(t, cfg, nil)
		write(t, h.path("a.pdf"), "a")
		h.wait("a.pdf", 1)
		want := before + 1
		if cfg.Poll {
			want = before
		}
		if got := count(); got != want {
			t.Errorf("%d inotify descriptors, want %d", got, want)
		}
	})
}
