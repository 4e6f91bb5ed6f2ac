package atomicfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSeal: a file nobody writes is sealed as it is (same inode); one a
// writer still has open is replaced by a copy of its own, which the
// writer's later bytes do not reach; one whose bytes changed is
// ErrChanged, open or not, and stays as it is.
func TestSeal(t *testing.T) {
	content := []byte("%PDF-1.4 the recorded bytes")
	sum := sha256.Sum256(content)
	sha := hex.EncodeToString(sum[:])
	setup := func(t *testing.T) (string, os.FileInfo) {
		p := filepath.Join(t.TempDir(), sha+".pdf")
		if err := os.WriteFile(p, content, 0o640); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		return p, fi
	}
	ctx := context.Background()

	t.Run("no writer", func(t *testing.T) {
		p, before := setup(t)
		if err := Seal(ctx, p, sha); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.Stat(p); !os.SameFile(before, after) {
			t.Error("copied though nobody writes it")
		}
	})
	t.Run("writer open", func(t *testing.T) {
		p, before := setup(t)
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := Seal(ctx, p, sha); err != nil {
			t.Fatal(err)
		}
		after, _ := os.Stat(p)
		if os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
			t.Fatalf("not replaced by a copy of its own: mode %v", after.Mode())
		}
		w.WriteAt([]byte("late"), 3)
		if b, _ := os.ReadFile(p); string(b) != string(content) {
			t.Errorf("the writer reached the sealed file: %q", b)
		}
	})
	for _, open := range []bool{false, true} {
		t.Run("changed, writer open "+map[bool]string{false: "no", true: "yes"}[open], func(t *testing.T) {
			p, _ := setup(t)
			w, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.WriteAt([]byte("late"), 3)
			if !open {
				w.Close()
			} else {
				defer w.Close()
			}
			if err := Seal(ctx, p, sha); !errors.Is(err, ErrChanged) {
				t.Fatalf("got %v, want ErrChanged", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
				t.Errorf("%d files left beside it", len(entries))
			}
		})
	}
}
