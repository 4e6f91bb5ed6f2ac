package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
)

// seenAgain handles a file whose content is already recorded (t is its
// take): the rest of an interrupted ingest, a waiting scan that staff
// renamed, the content saved for one more dossier, or a duplicate. A
// content is a duplicate only for the same dossier.
func (in *Ingester) seenAgain(ctx context.Context, p, rel string, t taken, sc store.Scan, log *slog.Logger) error {
	// The rest of an interrupted ingest, not a duplicate: the same file at
	// the same place. A queued scan is never marked settled (its inbox file
	// is simply removed), so for it the place alone says so.
	resumed := sc.Source == rel && (!sc.Settled || sc.State == store.Queued || sc.State == store.Uploaded || sc.State == store.Split)
	switch sc.State {
	case store.Waiting:
		in.missing.forget(sc.SHA256)
		return in.relink(p, rel, sc, log)
	case store.Rejected:
		if !resumed {
			if err := in.seeRejectedAgain(rel, sc); err != nil {
				return err
			}
			log.Info("rejected content dropped again", "sha256", sc.SHA256, "reason", sc.Reason)
		}
		sc.Name = path.Base(rel)
		return in.settle(p, sc, log)
	default: // queued, uploaded or split: its content is safe in the data dir
		if !resumed {
			if added, err := in.addDossier(ctx, p, rel, t, sc, log); added || err != nil {
				return err
			}
			if err := in.cfg.Store.CountDuplicate(); err != nil {
				return err
			}
			log.Info("duplicate of a recorded scan removed from the inbox", "sha256", sc.SHA256,
				"state", sc.State, "dossiers", sc.Dossiers, "first_seen_as", sc.Source)
		}
		return in.removeTaken(p, rel, log)
	}
}

// relink tries again to link a waiting scan, under the name and folder it
// has now. A hold found on its pages (a receipt of another agency, say)
// stands while its name still gives no code. A second copy of its content
// (the file at its place is still there, with the same bytes) does not
// take its place: if its name links the content, the copy that waited
// leaves the waiting folder with its note; if not, the second copy leaves
// the inbox as a duplicate of the one that waits with its note.
func (in *Ingester) relink(p, rel string, sc store.Scan, log *slog.Logger) error {
	if !fileExists(in.SpoolPath(sc.SHA256, false)) {
		return fmt.Errorf("waiting scan %s has no spool copy", sc.SHA256)
	}
	codes, hold, detail := in.cfg.Linker.link(rel)
	if (sc.Reason == reason.CodeConflict || sc.Reason == reason.Batch || sc.Reason == reason.BeforeReceipt) && (rel == sc.Place || path.Base(rel) == sc.Name) {
		// Held because of what its receipts say, which the name alone
		// cannot show: the hold stands until a person renames the file.
		codes, hold, detail = sc.Dossiers, sc.Reason, sc.Detail
	}
	if hold == reason.NoCode && sc.Reason != reason.NoCode && sc.Reason != "" {
		if _, was, _ := in.cfg.Linker.link(sc.Source); was == reason.NoCode {
			// The hold came from its pages, not from its name: a name that
			// still gives no code changes nothing.
			codes, hold, detail = sc.Dossiers, sc.Reason, sc.Detail
		}
	}
	waits := sc.Place != "" && sc.Place != rel && in.waitsAt(sc)
	if hold == "" {
		if waits {
			if err := in.removeWaiting(sc, log); err != nil {
				return err
			}
		}
		if err := in.cfg.Store.Link(sc.SHA256, codes, path.Base(rel), rel, in.cfg.Now()); err != nil {
			return err
		}
		log.Info("waiting scan linked", "sha256", sc.SHA256, "dossiers", codes)
		in.cfg.Queued()
		in.removeNote(sc.Place)
		sc.State, sc.Dossiers = store.Queued, codes
		return in.settle(p, sc, log)
	}
	if waits {
		if err := in.cfg.Store.CountDuplicate(); err != nil {
			return err
		}
		log.Info("a second copy of a waiting scan removed from the inbox; the first waits with its note",
			"sha256", sc.SHA256, "waits_at", sc.Place)
		return in.removeTaken(p, rel, log)
	}
	if sc.Settled && sc.Place == rel && sc.Reason == hold && !sc.Gone && fileExists(p+".txt") {
		return nil // still waiting, where staff see it with its note, for the same reason
	}
	if sc.Place != rel {
		in.removeNote(sc.Place)
	}
	if err := in.cfg.Store.Hold(sc.SHA256, hold, detail, path.Base(rel), rel); err != nil {
		return err
	}
	sc.Reason, sc.Detail, sc.Name, sc.Source = hold, detail, path.Base(rel), rel
	return in.settle(p, sc, log)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
