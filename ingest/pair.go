package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/store"
)

// The unit of upload and of the digitized count is the pair (dossier,
// content). One content, an ID card scanned once, say, may be saved for
// several dossiers: for each it is uploaded once and counted. Only the same
// content for the same dossier is a duplicate.

// addDossier links a queued or uploaded content saved again at rel (taken
// as t) to the dossier its name or folder gives, when that is one it does
// not have yet and its receipt, if it has one, agrees (as Linker.Decide
// tells): one upload of it is queued for that dossier and the file leaves
// the inbox. It reports false, doing nothing, when the name links no new
// dossier: the file is then a duplicate.
func (in *Ingester) addDossier(ctx context.Context, p, rel string, t taken, sc store.Scan, log *slog.Logger) (bool, error) {
	codes, hold, _ := in.cfg.Linker.link(rel)
	if sc.State == store.Split || hold != "" || len(codes) != 1 || slices.Contains(sc.Dossiers, codes[0]) {
		return false, nil
	}
	found, err := in.cfg.Linker.Examine(ctx, in.cfg.Barcodes, in.cfg.SkipNamedReceipts, t.tmp, rel, pdfcheck.Result{Pages: sc.Pages})
	if err != nil {
		return false, fmt.Errorf("read barcodes of %s: %w", rel, err)
	}
	if fate := in.cfg.Linker.Decide(found); fate.State != store.Queued || !slices.Equal(fate.Dossiers, codes) {
		log.Warn("content saved again under a code its receipt does not give; not uploaded for it", "sha256", sc.SHA256,
			"name_says", codes[0], "reason", fate.Reason, "detail", fate.Detail, "dossiers", sc.Dossiers)
		return false, nil
	}
	asSaved, err := in.unarchive(ctx, t, sc, rel, log)
	if err != nil {
		return false, err
	}
	added, err := in.cfg.Store.AddDossier(sc.SHA256, codes[0], path.Base(rel), rel, asSaved, in.cfg.Now())
	if err != nil || !added {
		return false, err
	}
	log.Info("content saved again for another dossier; queued for it", "sha256", sc.SHA256, "dossier", codes[0],
		"also_for", sc.Dossiers, "first_seen_as", sc.Source)
	in.cfg.Queued()
	return true, in.removeTaken(p, rel, log)
}

// unarchive puts back in the spool the files an upload of sc delivers, for
// one more dossier: those the archive still has, and, when the archive no
// longer has the content as saved (archive.retention), the copy just taken
// (t, the same bytes). It reports asSaved when the repaired or trimmed copy
// that is otherwise delivered is gone: the file as saved is delivered.
func (in *Ingester) unarchive(ctx context.Context, t taken, sc store.Scan, rel string, log *slog.Logger) (asSaved bool, err error) {
	need := []string{in.SpoolPath(sc.SHA256, false)}
	if sc.Repaired {
		need = append(need, in.SpoolPath(sc.SHA256, true))
	}
	if sc.Trimmed {
		need = append(need, in.TrimmedPath(sc.SHA256))
	}
	for _, dst := range need {
		err := os.Rename(filepath.Join(in.archive, filepath.Base(dst)), dst)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("bring %s back from the archive: %w", filepath.Base(dst), err)
		}
	}
	if !fileExists(need[0]) {
		if err := in.keep(t, sc.SHA256, "", false, rel); err != nil {
			return false, err
		}
		if err := in.claim(ctx, t.shared, sc.SHA256, store.Queued); err != nil {
			return false, err
		}
	}
	for _, q := range need[1:] {
		if !fileExists(q) {
			log.Warn("the repaired or trimmed copy of this content was pruned from the archive; the new dossier gets the file as saved",
				"sha256", sc.SHA256)
			return true, nil
		}
	}
	return false, atomicfile.SyncDir(in.spool)
}

// seeRejectedAgain counts a rejected content dropped again, at rel, as a
// duplicate; a dossier code its name or folder gives counts as received.
func (in *Ingester) seeRejectedAgain(rel string, sc store.Scan) error {
	codes, _, _ := in.cfg.Linker.link(rel)
	return in.cfg.Store.SeeDossiers(codes, in.cfg.Now())
}
