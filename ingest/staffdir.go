package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
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

// Every step in the staff folders goes through the inbox opened as an
// os.Root: a name there that is a link cannot take a file or a note out of
// the inbox, wherever it points (anyone who may save a scan may also put
// a link where a staff folder was).

// openStaff opens the inbox as a root that no name may lead out of, and
// makes sure folder, directly under it, is a real folder (staffDir). The
// caller closes the root.
func (in *Ingester) openStaff(folder string) (*os.Root, error) {
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return nil, fmt.Errorf("open the inbox: %w", err)
	}
	if err := in.staffDir(root, folder); err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// staffDir makes sure folder is a real folder directly under the inbox
// (root): it creates it if it is missing (makeStaffDir). Anything else
// there — a link, a file, or a folder owned by someone other than the
// daemon, the inbox's owner or root — is renamed aside to a name staff
// see, never deleted nor followed, and a real folder made in its place:
// logged, counted, and told in a note in the new folder. A real folder that
// exists is left as it is: IT set it up.
func (in *Ingester) staffDir(root *os.Root, folder string) error {
	fi, err := root.Lstat(folder)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return makeStaffDir(root, folder)
	case err != nil:
		return fmt.Errorf("staff folder %s: %w", folder, err)
	}
	inbox, err := root.Stat(".")
	if err != nil {
		return fmt.Errorf("open the inbox: %w", err)
	}
	if fi.IsDir() && ownedAsExpected(fi, inbox) {
		return nil
	}
	now := in.cfg.Now()
	stamp := now.In(dossier.ICT()).Format("2006-01-02 150405")
	aside := fmt.Sprintf("%s (không hợp lệ %s)", folder, stamp)
	for i := 2; ; i++ {
		if _, err := root.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 100 {
			return fmt.Errorf("staff folder %s is not a real folder and no name is free to move it aside", folder)
		}
		aside = fmt.Sprintf("%s (không hợp lệ %s, %d)", folder, stamp, i)
	}
	if err := root.Rename(folder, aside); err != nil {
		return fmt.Errorf("staff folder %s is not a real folder; moving it aside: %w", folder, err)
	}
	in.cfg.Logger.Warn("a staff folder was not a real folder owned by sohoa, the inbox's owner or root; "+
		"it was renamed aside, nothing in it followed or deleted, and a real folder made",
		"folder", folder, "was", fi.Mode().Type().String(), "renamed_to", aside)
	if in.cfg.StaffFolderReplaced != nil {
		in.cfg.StaffFolderReplaced(folder)
	}
	if err := makeStaffDir(root, folder); err != nil {
		return err
	}
	body := noteBody([]string{
		"Thư mục \"" + folder + "\" không phải là thư mục thật (có thể là lối tắt) nên hệ thống đã đổi tên nó thành \"" +
			aside + "\" và tạo lại thư mục \"" + folder + "\".",
		"Cần làm: báo cho cán bộ CNTT; không tạo lối tắt thay cho thư mục này.",
		"Thời gian: " + now.In(dossier.ICT()).Format("15:04 02/01/2006"),
	})
	if err := atomicfile.ReplaceIn(root, filepath.Join(folder, aside+".txt"), body, 0o660); err != nil {
		in.cfg.Logger.Warn("cannot write the note about a staff folder moved aside", "folder", folder, "err", err)
	}
	return nil
}

// makeStaffDir creates a staff folder directly under the inbox (root),
// mode 0770 whatever the umask: under systemd's UMask=0027 mkdir alone
// would make it 0750, where clerks could not rename a scan to link it
// (unless the inbox has a default ACL). The setgid bit a folder inherits
// from a setgid inbox is kept, so its files stay in the inbox's group.
func makeStaffDir(root *os.Root, folder string) error {
	err := root.Mkdir(folder, staffDirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	fi, err := root.Lstat(folder)
	if err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	if err := root.Chmod(folder, staffDirMode|fi.Mode()&os.ModeSetgid); err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	return nil
}

// toStaffFolder moves the file at p into folder (directly under the inbox)
// unless it is already there, writes the note beside it, and returns its new
// slash-separated path under the inbox. A file saved at p since it was
// taken is not moved (stillTaken): it is left for the watcher, and a
// scan's content is put in folder from the spool instead (placeCopy); ""
// when there is no copy to put there.
func (in *Ingester) toStaffFolder(p, folder string, sc store.Scan) (string, error) {
	root, err := in.openStaff(folder)
	if err != nil {
		return "", err
	}
	defer root.Close()
	src, err := filepath.Rel(in.cfg.Inbox, p)
	if err != nil {
		return "", err
	}
	// Choosing the name, writing the note there and moving the file in are
	// one step for the other watch workers.
	in.moving.Lock()
	defer in.moving.Unlock()
	if same, err := in.stillTaken(p); err != nil || !same {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		in.cfg.Logger.Info("the file was replaced or removed since it was taken; what is there now is left for the watcher",
			"file", sc.Source, "folder", folder)
		if sc.SHA256 == "" {
			return "", nil
		}
		return in.placeCopy(root, folder, sc)
	}
	target := src
	if filepath.Dir(src) != folder {
		// Named so that staff can see and rename it, and a note fits beside.
		base := strings.ToValidUTF8(filepath.Base(p), "\uFFFD")
		if target, err = freeName(root, folder, noteRoom(base)); err != nil {
			return "", err
		}
	}
	// The note first: killed between the two steps, the file is still in
	// the inbox and is moved beside its note when taken again. The other
	// way round, a file would sit in the errors folder, which is never
	// watched, without a word of what is wrong with it.
	if err := in.writeNote(root, target+".txt", sc); err != nil {
		return "", err
	}
	if target != src {
		if err := root.Rename(src, target); err != nil {
			_ = root.Remove(target + ".txt") // the move's error is the one to report
			return "", fmt.Errorf("move %s to %s: %w", sc.Source, folder, err)
		}
		in.removeEmptyIn(root, filepath.Dir(src))
	}
	return filepath.ToSlash(target), nil
}

// placeCopy puts a copy of sc's content, read from the spool, in folder
// (directly under the inbox, opened as root) under sc's name, with its note,
// and returns where, slash-separated. A file already there with that
// content is reused, so a copy is never placed twice. It returns "" with
// nothing done when the spool holds no copy with sc's SHA-256.
func (in *Ingester) placeCopy(root *os.Root, folder string, sc store.Scan) (string, error) {
	name := filepath.Join(folder, noteRoom(strings.ToValidUTF8(sc.Name, "\uFFFD")))
	if sha, _, err := hashIn(root, name); err != nil || sha != sc.SHA256 {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		data, err := os.ReadFile(in.SpoolPath(sc.SHA256, false))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("copy %s for staff: %w", sc.SHA256, err)
		}
		if sha, _, _ := hashOf(bytes.NewReader(data), name); sha != sc.SHA256 {
			in.cfg.Logger.Warn("the spool copy no longer has the scan's content; nothing placed for staff",
				"sha256", sc.SHA256)
			return "", nil
		}
		if name, err = freeName(root, folder, filepath.Base(name)); err != nil {
			return "", err
		}
		// The inbox may be a network mount: its folder is not synced.
		if err := atomicfile.ReplaceIn(root, name, data, 0o660); err != nil {
			return "", fmt.Errorf("copy %s for staff: %w", sc.SHA256, err)
		}
	}
	if err := in.writeNote(root, name+".txt", sc); err != nil {
		return "", err
	}
	return filepath.ToSlash(name), nil
}

// rejectUnhashed moves what is rejected without being read — a FIFO,
// socket, device or symlink, a file we may not read, one over the size cap
// — to the errors folder without opening or following it. There is no
// content to record; the rejection is counted.
func (in *Ingester) rejectUnhashed(p, rel string, r reason.Code, detail string, log *slog.Logger) error {
	codes, _, _ := in.cfg.Linker.link(rel)
	sc := store.Scan{Name: path.Base(rel), Source: rel, State: store.Rejected, Reason: r, Detail: detail, Dossiers: codes}
	place, err := in.toStaffFolder(p, in.cfg.Errors, sc)
	if err != nil || place == "" {
		return err
	}
	if err := in.cfg.Store.CountRejected(r, codes, in.cfg.Now()); err != nil {
		return err
	}
	log.Warn("rejected without reading", "reason", r, "detail", detail, "moved_to", place)
	return nil
}

// removeEmptyParents removes dir and its parents up to (not including) the
// inbox while they are empty: the folders staff made for one dossier.
func (in *Ingester) removeEmptyParents(dir string) {
	rel, err := filepath.Rel(in.cfg.Inbox, dir)
	if err != nil {
		return
	}
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return
	}
	defer root.Close()
	in.removeEmptyIn(root, rel)
}

// removeEmptyIn is removeEmptyParents of dir relative to the inbox, root:
// a link on the way is never followed out of it.
func (in *Ingester) removeEmptyIn(root *os.Root, dir string) {
	for dir = filepath.Clean(dir); dir != "." && filepath.IsLocal(dir); dir = filepath.Dir(dir) {
		if filepath.Dir(dir) == "." && (dir == in.cfg.Errors || dir == in.cfg.Waiting) {
			return
		}
		if root.Remove(dir) != nil {
			return
		}
	}
}

// hashIn returns the SHA-256 and size of the file name within root.
func hashIn(root *os.Root, name string) (sha string, size int64, err error) {
	f, err := root.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return hashOf(f, name)
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

// freeName returns a name in dir (under root) for base that is not taken,
// relative to root: "dir/a.pdf", "dir/a (2).pdf", "dir/a (3).pdf", ...
// A note left without its file (a move cut short) does not take the name:
// it is written again for the file that gets it.
func freeName(root *os.Root, dir, base string) (string, error) {
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 1; i < 10000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		p := filepath.Join(dir, name)
		if _, err := root.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", base, dir)
}

// stillTaken reports whether the inbox file at p is still the version of it
// that Ingest took (the same file, size and modification time; see
// taking): a scanner that saves each scan under one name may have saved the
// next one there meanwhile, and that one is not ours to move or remove.
// Without a version on record (p is not being ingested) it reports true.
// The error is Lstat's: fs.ErrNotExist when nothing is at p.
func (in *Ingester) stillTaken(p string) (bool, error) {
	was, ok := in.taking.Load(p)
	if !ok {
		return true, nil
	}
	now, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	return sameVersion(now, was.(fs.FileInfo)), nil
}

// removeTaken removes the inbox file at p once its content is safe and
// recorded, unless another file was saved at p since it was taken
// (stillTaken): that one is left for the watcher. rel names it in errors.
func (in *Ingester) removeTaken(p, rel string, log *slog.Logger) error {
	same, err := in.stillTaken(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("remove %s from the inbox: %w", rel, err)
	case !same:
		log.Info("another file was saved under the name of the scan just taken; it is left for the watcher")
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s from the inbox: %w", rel, err)
	}
	in.removeEmptyParents(filepath.Dir(p))
	return nil
}

// noteHead starts every note on a staff folder's file: the line that names
// the file it is about.
const noteHead = "\ufeffTệp: "

// writeNote writes, within root, the Vietnamese note that tells staff what
// is wrong and what to do about the scan sc, at name, beside its file.
func (in *Ingester) writeNote(root *os.Root, name string, sc store.Scan) error {
	body := noteText(sc, in.cfg.Linker.Ward, in.cfg.Now())
	// The inbox may be an SMB or NFS mount, where syncing a folder may not
	// be supported: the note's folder is not synced.
	if err := atomicfile.ReplaceIn(root, name, body, 0o660); err != nil {
		return fmt.Errorf("write note %s: %w", name, err)
	}
	return nil
}

// noteText is the note on sc for staff, with a BOM and CRLF so that
// Windows Notepad shows it right. Its example of a code is of the ward's
// own agency (ward), dated today; times are Vietnam's (dossier.ICT).
func noteText(sc store.Scan, ward string, now time.Time) []byte {
	now = now.In(dossier.ICT())
	example := ""
	if ward != "" {
		example = dossier.Canonical(ward) + "-" + now.Format("060102") + "-0001"
	}
	lines := []string{
		strings.TrimPrefix(noteHead, "\ufeff") + sc.Name,
		"Tình trạng: " + sc.Reason.Vietnamese(),
	}
	if sc.Reason == reason.LowDPI && sc.MinDPI > 0 {
		lines = append(lines, fmt.Sprintf("Độ phân giải đo được: %.0f dpi.", sc.MinDPI))
	}
	lines = append(lines, "Cần làm: "+sc.Reason.AdviceFor(example))
	if len(sc.Dossiers) > 0 {
		lines = append(lines, "Mã hồ sơ tìm thấy: "+strings.Join(sc.Dossiers, ", "))
	}
	if sc.Reason.IsRejection() {
		lines = append(lines, reason.AfterRescan(len(sc.Dossiers) > 0))
	}
	lines = append(lines,
		"Thời gian: "+now.Format("15:04 02/01/2006"),
		"",
		"(Dành cho cán bộ CNTT: "+string(sc.Reason)+": "+sc.Reason.English()+"; "+sc.Detail+")",
	)
	return noteBody(lines)
}

// noteBody joins lines into a note: a BOM, CRLF line ends.
func noteBody(lines []string) []byte {
	return []byte("\ufeff" + strings.Join(lines, "\r\n") + "\r\n")
}

// waitsAt reports whether sc's content is still the file at its place in
// a staff folder.
func (in *Ingester) waitsAt(sc store.Scan) bool {
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return false
	}
	defer root.Close()
	sha, _, err := hashIn(root, filepath.FromSlash(sc.Place))
	return err == nil && sha == sc.SHA256
}

// removeWaiting removes the file of the waiting scan sc from its place, with
// its note, once its content is linked through another copy of it: what
// stays in the waiting folder is only what still needs a person. A file
// there with other bytes is left as it is.
func (in *Ingester) removeWaiting(sc store.Scan, log *slog.Logger) error {
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return fmt.Errorf("open the inbox: %w", err)
	}
	defer root.Close()
	in.moving.Lock()
	defer in.moving.Unlock()
	place := filepath.FromSlash(sc.Place)
	if sha, _, err := hashIn(root, place); err != nil || sha != sc.SHA256 {
		return nil
	}
	if err := root.Remove(place); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", sc.Place, err)
	}
	if err := root.Remove(place + ".txt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the note of %s: %w", sc.Place, err)
	}
	log.Info("the waiting copy of a scan linked under another name removed from the waiting folder, with its note",
		"sha256", sc.SHA256, "was_at", sc.Place)
	return nil
}

// removeNote removes the note beside place (slash-separated under the
// inbox; "" for none), whose file is no longer there.
func (in *Ingester) removeNote(place string) {
	if place == "" {
		return
	}
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return
	}
	defer root.Close()
	if err := root.Remove(filepath.FromSlash(place) + ".txt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		in.cfg.Logger.Warn("cannot remove a note whose file is gone", "note", place+".txt", "err", err)
	}
}

// staffFiles opens folder, directly under the inbox (root), without
// following a link, and returns it with the names of its files and of its
// notes. A folder that is missing or not a real folder gives nil and no
// names: nothing in it is touched (staffDir replaces it when a file is
// next placed there).
func staffFiles(root *os.Root, folder string) (dir *os.File, files, notes []string, err error) {
	fi, err := root.Lstat(folder)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	dir, err = root.Open(folder)
	if err != nil {
		return nil, nil, nil, err
	}
	if now, err := dir.Stat(); err != nil || !os.SameFile(now, fi) {
		dir.Close()
		return nil, nil, nil, err // replaced meanwhile: left for next time
	}
	entries, err := dir.ReadDir(-1)
	if err != nil {
		dir.Close()
		return nil, nil, nil, fmt.Errorf("read %s: %w", folder, err)
	}
	for _, e := range entries {
		switch {
		case !e.Type().IsRegular() || strings.HasPrefix(e.Name(), "."):
		case strings.HasSuffix(e.Name(), ".txt"):
			notes = append(notes, e.Name())
		default:
			files = append(files, e.Name())
		}
	}
	return dir, files, notes, nil
}

// noted returns folder (see staffFiles) and the names of the files in it
// that have a note beside them.
func noted(root *os.Root, folder string) (*os.File, []string, error) {
	dir, files, notes, err := staffFiles(root, folder)
	if dir == nil {
		return nil, nil, err
	}
	var out []string
	for _, f := range files {
		if slices.Contains(notes, f+".txt") {
			out = append(out, f)
		}
	}
	return dir, out, nil
}
