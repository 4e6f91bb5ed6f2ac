package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// startWithUmask starts the daemon with the given umask, which the child
// inherits; the test's own umask is restored once it has started.
func (e *env) startWithUmask(mask int) {
	e.t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	e.start()
}

// modeRule says what mode a path the daemon created must have.
type modeRule func(fi fs.FileInfo) error

func exactly(want fs.FileMode) modeRule {
	return func(fi fs.FileInfo) error {
		if got := fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetgid | fs.ModeSetuid | fs.ModeSticky); got != want {
			return fmt.Errorf("mode %v, want %v", got, want)
		}
		return nil
	}
}

// walkModes applies rule to root and every path below it, skipping what
// skip returns true for.
func walkModes(t *testing.T, root string, rule func(rel string, fi fs.FileInfo) modeRule) (checked int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		r := rule(filepath.ToSlash(rel), fi)
		if r == nil {
			return nil
		}
		checked++
		if err := r(fi); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return checked
}

// TestCreatedModes runs the daemon over scans that take every path (upload,
// repair, batch split, rejection, waiting for a code) and checks the mode of
// everything it created: data dir, database, spool, archive, outbox folders
// 0750 and files 0640 (repaired copies and split parts 0600); the admin
// socket 0660; staff folders 2770 (setgid kept from the inbox) and notes
// 0660, so clerks can rename and delete there. The same under umask 0 (a
// mode the daemon asks for too loosely shows) and systemd's UMask=0027 (a
// mode the umask would narrow too far shows).
func TestCreatedModes(t *testing.T) {
	scans := []string{"000.00.12.H57-200320-0001.pdf", "batch_0001.pdf", "000.00.12.H57-200322-0001.pdf",
		"scan_0009.pdf", "lowres_0001.pdf"}
	const delivered = 5 // one, three parts, the repaired one
	for _, mask := range []int{0, 0o027} {
		t.Run(fmt.Sprintf("umask %04o", mask), func(t *testing.T) {
			e := newEnv(t)
			if err := os.Chmod(e.inbox, os.ModeSetgid|0o770); err != nil { // 2770, as sohoa.tmpfiles makes it
				t.Fatal(err)
			}
			e.startWithUmask(mask)
			for _, s := range scans {
				copyFile(t, filepath.Join(testenv.Corpus(t), s), filepath.Join(e.inbox, s))
			}
			waiting, errs := filepath.Join(e.inbox, "Chờ mã hồ sơ"), filepath.Join(e.inbox, "Lỗi")
			e.waitFor("every scan delivered or in a staff folder with its note", 60*time.Second, func() bool {
				_, err1 := os.Stat(filepath.Join(waiting, "scan_0009.pdf.txt"))
				_, err2 := os.Stat(filepath.Join(errs, "lowres_0001.pdf.txt"))
				return len(e.outboxFiles()) == delivered && err1 == nil && err2 == nil
			})
			e.waitFor("the uploaded scans archived", 30*time.Second, func() bool {
				spool, _ := os.ReadDir(filepath.Join(e.data, "spool"))
				return len(spool) == 1 // the scan waiting for its code
			})

			n := walkModes(t, e.data, func(rel string, fi fs.FileInfo) modeRule {
				switch {
				case fi.IsDir():
					return exactly(fs.ModeDir | 0o750)
				case fi.Mode().Type() == fs.ModeSocket:
					return exactly(fs.ModeSocket | 0o660)
				case fi.Mode().IsRegular():
					return func(fi fs.FileInfo) error {
						if p := fi.Mode().Perm(); p&^0o640 != 0 || p&0o600 != 0o600 || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
							return fmt.Errorf("mode %v, want 0640 or 0600", fi.Mode())
						}
						return nil
					}
				}
				return func(fi fs.FileInfo) error { return fmt.Errorf("unexpected %v in the data dir", fi.Mode()) }
			})
			for _, want := range []string{"sohoa.db", "admin.sock", "archive"} {
				if _, err := os.Lstat(filepath.Join(e.data, want)); err != nil {
					t.Errorf("no %s in the data dir: %v", want, err)
				}
			}
			// Originals, split parts and the repaired copy were all walked.
			archived, _ := filepath.Glob(filepath.Join(e.data, "archive", "*.pdf"))
			repaired, _ := filepath.Glob(filepath.Join(e.data, "archive", "*.repaired.pdf"))
			if len(archived) < 1+1+3+2 || len(repaired) != 1 {
				t.Errorf("archive holds %d copies, %d repaired; want at least 7, 1", len(archived), len(repaired))
			}

			n += walkModes(t, e.outbox, func(rel string, fi fs.FileInfo) modeRule {
				switch {
				case rel == ".": // made by the test, as IT mounts a share
					return nil
				case fi.IsDir():
					return exactly(fs.ModeDir | 0o750)
				}
				return exactly(0o640)
			})
			n += walkModes(t, e.inbox, func(rel string, fi fs.FileInfo) modeRule {
				first, rest, _ := strings.Cut(rel, "/")
				switch {
				case first != "Lỗi" && first != "Chờ mã hồ sơ":
					return nil
				case rest == "":
					return exactly(fs.ModeDir | fs.ModeSetgid | 0o770)
				case strings.HasSuffix(rest, ".txt"):
					return exactly(0o660)
				}
				return nil // the clerk's own file, moved: its mode is the clerk's
			})
			if n < 4+delivered+2+4 {
				t.Errorf("only %d paths checked", n)
			}
		})
	}
}

// TestAdminSocketRefusesOtherUsers: `sohoa parked` and `sohoa retry` run as
// another user (nobody) are refused, by the data dir's 0750 and, with that
// opened, by the socket's own 0660; a member of the daemon's group gets in.
// As root only (it runs the client as another user).
func TestAdminSocketRefusesOtherUsers(t *testing.T) {
	testenv.NeedRoot(t, "running the client as another user")
	e := newEnv(t)
	e.start()
	for _, d := range []string{filepath.Dir(binPath), filepath.Dir(e.dir), e.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.config, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(uid, gid uint32, args ...string) (string, int) {
		cmd := exec.Command(binPath, append(args, "-config", e.config)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}
	const nobody = 65534
	refused := func(stage string) {
		t.Helper()
		for _, args := range [][]string{{"parked"}, {"retry", "--all"}} {
			out, code := run(nobody, nobody, args...)
			if code != 1 || !strings.Contains(out, "permission denied") || strings.Contains(out, "no parked uploads") {
				t.Errorf("%s: sohoa %s as nobody: exit %d\n%s", stage, args[0], code, out)
			}
		}
	}
	refused("data dir 0750")
	// Open the data dir: the socket's own mode must still keep nobody out.
	if err := os.Chmod(e.data, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(e.data, 0o750)
	refused("data dir opened, socket 0660")
	// The daemon's group (root's here) may: the refusals above were the modes.
	if out, code := run(nobody, 0, "parked"); code != 0 {
		t.Errorf("sohoa parked as a member of the daemon's group: exit %d\n%s", code, out)
	}
}
