package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestHugeFileHoldsNoQueueSpace: a file far over check.max_bytes (a sparse
// 128 GiB file, as `truncate -s` makes) is rejected by its size at once,
// unread, and never holds queue space: a scan saved beside it is uploaded
// meanwhile, and no scan waits as "queue full".
func TestHugeFileHoldsNoQueueSpace(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(fmt.Sprintf(`upload:
  sink: dir
  queue_max_bytes: 1GiB
  retry: {min_backoff: 50ms, max_backoff: 500ms}
  dir: {path: %q}
`, e.outbox))
	e.start()
	huge := filepath.Join(e.inbox, "000.00.12.H57-200320-0008.pdf")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(128 << 30); err != nil {
		t.Fatalf("no sparse file here: %v", err)
	}
	f.Close()
	time.Sleep(100 * time.Millisecond) // the huge file is offered first
	good := "000.00.12.H57-200320-0001.pdf"
	copyFile(t, filepath.Join(testenv.Corpus(t), good), filepath.Join(e.inbox, good))
	note := filepath.Join(e.inbox, "Lỗi", filepath.Base(huge)+".txt")
	e.waitFor("the good scan delivered and the huge file rejected", 20*time.Second, func() bool {
		_, err := os.Stat(note)
		return len(e.outboxFiles()) == 1 && err == nil
	})
	e.logMu.Lock()
	full := strings.Contains(e.log.String(), "upload queue is full")
	e.logMu.Unlock()
	if full {
		t.Errorf("a scan waited as queue full; log:\n%s", e.logText())
	}
	if v := e.metric(`sohoa_scans_rejected_total{reason="too_large",ward="000.00.12.H57"}`); v != 1 {
		t.Errorf("too_large rejections %v", v)
	}
}

// TestStaffFolderLinkIsNotFollowed: the errors folder replaced by a link
// to a folder outside the inbox (where sohoa may write: the outbox here)
// while the daemon runs. A rejected scan goes to a real errors folder, with
// its note; nothing is written through the link, and the replacement is
// counted.
func TestStaffFolderLinkIsNotFollowed(t *testing.T) {
	e := newEnv(t)
	e.start()
	errorsDir := filepath.Join(e.inbox, "Lỗi")
	os.RemoveAll(errorsDir)
	if err := os.Symlink(e.outbox, errorsDir); err != nil {
		t.Fatal(err)
	}
	bad := "000.00.12.H57-200321-0005.pdf"
	copyFile(t, filepath.Join(testenv.Corpus(t), "lowres_0001.pdf"), filepath.Join(e.inbox, bad))
	e.waitFor("the rejected scan in a real errors folder", 20*time.Second, func() bool {
		fi, err := os.Lstat(errorsDir)
		_, nerr := os.Stat(filepath.Join(errorsDir, bad+".txt"))
		return err == nil && fi.IsDir() && nerr == nil
	})
	if files := e.outboxFiles(); len(files) != 0 {
		t.Errorf("written through the link into the outbox: %v", files)
	}
	if v := e.metric(`sohoa_staff_folders_replaced_total{ward="000.00.12.H57"}`); v != 1 {
		t.Errorf("sohoa_staff_folders_replaced_total %v, want 1", v)
	}
}
