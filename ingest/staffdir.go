package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
)

// staffDirMode is the mode of a staff folder the daemon creates: clerks
// (the inbox's group) rename and delete in it.
const staffDirMode = 0o770

// makeStaffDir creates a staff folder directly under the inbox if it is
// missing, mode 0770 whatever the umask: under systemd's UMask=0027 mkdir
// alone would make it 0750, where clerks could not rename a scan to link it
// (unless the inbox has a default ACL). The setgid bit a folder inherits
// from a setgid inbox is kept, so its files stay in the inbox's group. A
// folder that exists is left as it is: IT set it up.
func makeStaffDir(dir string) error {
	err := os.Mkdir(dir, staffDirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	if err := os.Chmod(dir, staffDirMode|fi.Mode()&os.ModeSetgid); err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	return nil
}

// toStaffFolder moves the file at p into folder (directly under the inbox)
// unless it is already there, writes the note beside it, and returns its new
// slash-separated path under the inbox.
func (in *Ingester) toStaffFolder(p, folder string, sc store.Scan) (string, error) {
	dir := filepath.Join(in.cfg.Inbox, folder)
	if err := makeStaffDir(dir); err != nil {
		return "", err
	}
	target := p
	// Choosing the name, writing the note there and moving the file in are
	// one step for the other watch workers.
	in.moving.Lock()
	defer in.moving.Unlock()
	if filepath.Dir(p) != dir {
		// Named so that staff can see and rename it, and a note fits beside.
		base := strings.ToValidUTF8(filepath.Base(p), "\uFFFD")
		var err error
		if target, err = freeName(dir, noteRoom(base)); err != nil {
			return "", err
		}
	}
	// The note first: killed between the two steps, the file is still in
	// the inbox and is moved beside its note when taken again. The other
	// way round, a file would sit in the errors folder, which is never
	// watched, without a word of what is wrong with it.
	if err := writeNote(target+".txt", sc, in.cfg.Now()); err != nil {
		return "", err
	}
	if target != p {
		if err := os.Rename(p, target); err != nil {
			os.Remove(target + ".txt")
			return "", fmt.Errorf("move %s to %s: %w", sc.Source, folder, err)
		}
		in.removeEmptyParents(filepath.Dir(p))
	}
	rel, err := filepath.Rel(in.cfg.Inbox, target)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// rejectUnhashed moves what cannot be read as a scan — a FIFO, socket,
// device or symlink, or a file we may not read — to the errors folder
// without opening or following it. There is no content to record; the
// rejection is counted.
func (in *Ingester) rejectUnhashed(p, rel string, r reason.Code, detail string, log *slog.Logger) error {
	sc := store.Scan{Name: path.Base(rel), Source: rel, State: store.Rejected, Reason: r, Detail: detail}
	place, err := in.toStaffFolder(p, in.cfg.Errors, sc)
	if err != nil {
		return err
	}
	if err := in.cfg.Store.CountRejected(r); err != nil {
		return err
	}
	log.Warn("rejected without reading", "reason", r, "detail", detail, "moved_to", place)
	return nil
}

// removeEmptyParents removes dir and its parents up to (not including) the
// inbox while they are empty: the folders staff made for one dossier.
func (in *Ingester) removeEmptyParents(dir string) {
	root := filepath.Clean(in.cfg.Inbox)
	for dir = filepath.Clean(dir); strings.HasPrefix(dir, root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if filepath.Dir(dir) == root && (filepath.Base(dir) == in.cfg.Errors || filepath.Base(dir) == in.cfg.Waiting) {
			return
		}
		if os.Remove(dir) != nil {
			return
		}
	}
}

// noteRoom shortens a file name, at a character boundary and keeping its
// extension, so that the name freeName may number and its note's name
// ("<name> (9999).pdf.txt") stay within the 255 bytes that Linux file
// systems allow: a file with the longest name cannot otherwise have a note
// beside it and would never leave the inbox.
func noteRoom(base string) string {
	const limit = 255 - len(" (9999)") - len(".txt")
	if len(base) <= limit {
		return base
	}
	ext := filepath.Ext(base)
	if len(ext) > 16 {
		ext = ""
	}
	stem := strings.TrimSuffix(base, ext)
	cut := limit - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return stem[:cut] + ext
}

// freeName returns a path in dir for base that is not taken: "a.pdf",
// "a (2).pdf", "a (3).pdf", ...
func freeName(dir, base string) (string, error) {
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 1; i < 10000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", base, dir)
}

// writeNote writes the Vietnamese note that tells staff what is wrong and
// what to do, beside the file, with a BOM and CRLF so that Windows Notepad
// shows it right. Times are Vietnam's (dossier.ICT).
func writeNote(p string, sc store.Scan, now time.Time) error {
	lines := []string{
		"Tệp: " + sc.Name,
		"Tình trạng: " + sc.Reason.Vietnamese(),
		"Cần làm: " + sc.Reason.Advice(),
	}
	if len(sc.Dossiers) > 0 {
		lines = append(lines, "Mã hồ sơ tìm thấy: "+strings.Join(sc.Dossiers, ", "))
	}
	lines = append(lines,
		"Thời gian: "+now.In(dossier.ICT()).Format("15:04 02/01/2006"),
		"",
		"(Dành cho cán bộ CNTT: "+string(sc.Reason)+": "+sc.Reason.English()+"; "+sc.Detail+")",
	)
	body := "\ufeff" + strings.Join(lines, "\r\n") + "\r\n"
	// The inbox may be an SMB or NFS mount, where syncing a folder may not
	// be supported: the note's folder is not synced.
	if err := atomicfile.Replace(p, []byte(body), 0o660); err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	return nil
}
