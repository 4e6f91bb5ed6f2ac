package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sohoa/sohoa/ingest/reason"
)

// State is where a scan is in its life.
type State string

// The states of a scan.
const (
	Queued   State = "queued"   // valid and linked; waiting for the sink
	Waiting  State = "waiting"  // valid, but needs a person to link it (see Scan.Reason)
	Rejected State = "rejected" // cannot be uploaded (see Scan.Reason)
	Uploaded State = "uploaded" // the sink confirmed it
	Split    State = "split"    // a batch of several dossiers, uploaded as its parts (Scan.Parts)
)

// Scan is one distinct scanned file, identified by the SHA-256 of its content.
type Scan struct {
	SHA256   string      `json:"sha256"`
	Size     int64       `json:"size"`
	Name     string      `json:"name"`   // base name as staff saved it, NFC
	Source   string      `json:"source"` // path under the inbox where it was last seen, slash-separated
	State    State       `json:"state"`
	Reason   reason.Code `json:"reason,omitempty"`
	Detail   string      `json:"detail,omitempty"` // English detail for logs
	Dossiers []string    `json:"dossiers,omitempty"`
	Pages    int         `json:"pages,omitempty"`
	MinDPI   float64     `json:"min_dpi,omitempty"`
	Repaired bool        `json:"repaired,omitempty"`
	// RepairedSHA256 is the hash of the repaired copy, which is what is
	// uploaded when Repaired is set.
	RepairedSHA256 string `json:"repaired_sha256,omitempty"`
	RepairedSize   int64  `json:"repaired_size,omitempty"`
	// ParserTries counts the checks of this content that the parser did
	// not survive (reason.ParserLimit); see MaxParserTries.
	ParserTries int       `json:"parser_tries,omitempty"`
	Seen        time.Time `json:"seen"`              // when it was recorded
	Uploaded    time.Time `json:"uploaded,omitzero"` // when the sink confirmed its last pending upload
	// UploadedTo holds, for each dossier of Dossiers this content was
	// confirmed uploaded to, when: the unit of upload is the pair
	// (dossier, content), and one content may go to several dossiers.
	UploadedTo map[string]time.Time `json:"uploaded_to,omitempty"`
	Settled    bool                 `json:"settled,omitempty"` // the inbox copy was removed or moved to a staff folder
	Place      string               `json:"place,omitempty"`   // where staff see it now (errors or waiting folder), slash-separated under the inbox
	// Gone marks a waiting scan whose file staff removed from the inbox
	// (deleted it, or moved it out) without linking it: it is counted as
	// abandoned, not unlinked, until the file comes back (see Abandon).
	Gone    bool     `json:"gone,omitempty"`
	Pending int      `json:"pending,omitempty"` // upload jobs not yet confirmed
	Parts   []string `json:"parts,omitempty"`   // a split batch: the SHA-256 of each part, in page order
	Batch   string   `json:"batch,omitempty"`   // a part: the SHA-256 of the batch it was cut from

	// BlankDropped counts the blank pages (empty back sides of a duplex
	// scan) left out of what is uploaded. On a whole scan, Trimmed is then
	// set and TrimmedSHA256 is the hash of the copy without them (made
	// from the repaired copy when there is one), which is what is uploaded;
	// a part of a batch is cut without them and is not trimmed again.
	BlankDropped  int    `json:"blank_pages_dropped,omitempty"`
	Trimmed       bool   `json:"trimmed,omitempty"`
	TrimmedSHA256 string `json:"trimmed_sha256,omitempty"`
	TrimmedSize   int64  `json:"trimmed_size,omitempty"`
	// ReceiptsDropped counts the receipt pages left out of a trimmed copy
	// (pages.drop_receipts).
	ReceiptsDropped int `json:"receipt_pages_dropped,omitempty"`
}

// Scan returns the record of a scan, or ErrNotFound.
func (s *Store) Scan(sha string) (Scan, error) {
	var sc Scan
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		sc, err = getScan(tx, sha)
		return err
	})
	return sc, err
}

// Scans calls fn for every scan record, in SHA-256 order, until fn returns false.
func (s *Store) Scans(fn func(Scan) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bScans).ForEach(func(k, v []byte) error {
			var sc Scan
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("scan %s: %w", k, err)
			}
			if !fn(sc) {
				return errStop
			}
			return nil
		})
	})
}

var errStop = errors.New("stop")

// waitingMark is how a waiting scan's record reads (json.Marshal writes the
// state field so): WaitingScans decodes only the records that contain it.
var waitingMark = []byte(`"state":"waiting"`)

// WaitingScans returns the scans waiting for a person, abandoned ones
// included. It reads every record, but decodes only the waiting ones: a
// ward's tens of thousands of uploaded scans cost a byte search each.
func (s *Store) WaitingScans() ([]Scan, error) {
	var out []Scan
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachWaiting(tx, func(sc Scan) { out = append(out, sc) })
	})
	return out, err
}

// eachWaiting calls fn with every waiting scan, abandoned ones included.
func eachWaiting(tx *bolt.Tx, fn func(Scan)) error {
	return tx.Bucket(bScans).ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, waitingMark) {
			return nil
		}
		var sc Scan
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("scan %s: %w", k, err)
		}
		if sc.State == Waiting {
			fn(sc)
		}
		return nil
	})
}

// UnlinkedSince returns when the scan that has waited longest among those
// counted as unlinked (waiting for a person, the file still in the inbox)
// was recorded: the zero time when none is. With none waiting it reads one
// counter; otherwise it searches every record as WaitingScans does (17 ms
// for 50,000 records, BenchmarkUnlinkedSince), once per change of the
// database: it is for a scrape, not for each scan taken.
func (s *Store) UnlinkedSince() (time.Time, error) {
	var oldest time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if get(tx.Bucket(bCounters), cUnlinked) <= 0 {
			return nil
		}
		if cached, ok := s.unlinked.get(tx.ID(), ""); ok {
			oldest = cached
			return nil
		}
		err := eachWaiting(tx, func(sc Scan) {
			// A record without a time (none is written so) must not read as "none waits".
			if waitingCounter(sc) == cUnlinked && !sc.Seen.IsZero() && (oldest.IsZero() || sc.Seen.Before(oldest)) {
				oldest = sc.Seen
			}
		})
		if err == nil {
			s.unlinked.put(tx.ID(), "", oldest)
		}
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read waiting scans: %w", err)
	}
	return oldest, nil
}

// Record stores a newly seen scan and, in the same transaction, queues its
// upload (one job per dossier) when its state is Queued and updates the
// counters. Every dossier code it names, rejected or waiting ones' too,
// counts as received (see Received). Recording a SHA-256 that is already
// known fails, unless that record is a verdict that may change (see
// Rejudged): the new one then replaces it.
func (s *Store) Record(sc Scan) error {
	return s.db.Update(func(tx *bolt.Tx) error { return record(tx, sc) })
}

// RecordSplit stores a batch file cut into one part per dossier, in one
// transaction: the batch in state Split, and each part as Record would. The
// parts are what is counted and uploaded; the batch is kept for the record.
func (s *Store) RecordSplit(batch Scan, parts []Scan) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if batch.State != Split || len(parts) == 0 {
			return fmt.Errorf("record batch %s: not a split batch", batch.SHA256)
		}
		if old, err := getScan(tx, batch.SHA256); err == nil && !Rejudged(old) {
			return fmt.Errorf("record batch %s: already recorded", batch.SHA256)
		}
		batch.Parts = nil
		for _, p := range parts {
			p.Batch = batch.SHA256
			if err := record(tx, p); err != nil {
				return fmt.Errorf("record batch %s: %w", batch.SHA256, err)
			}
			batch.Parts = append(batch.Parts, p.SHA256)
		}
		return putScan(tx, batch)
	})
}

func record(tx *bolt.Tx, sc Scan) error {
	var old *Scan
	if o, err := getScan(tx, sc.SHA256); err == nil {
		if !Rejudged(o) {
			return fmt.Errorf("record scan %s: already recorded", sc.SHA256)
		}
		old = &o
	}
	var err error
	switch sc.State {
	case Rejected:
		if !sc.Reason.IsRejection() {
			return fmt.Errorf("record scan %s: %q is not a rejection reason", sc.SHA256, sc.Reason)
		}
		if old != nil && old.Reason == sc.Reason {
			err = add(tx, cDuplicates, 1) // judged again, the same verdict: dropped again
		} else {
			err = add(tx, pRejected+string(sc.Reason), 1)
		}
	case Waiting:
		err = add(tx, cUnlinked, 1)
	case Queued:
		err = enqueue(tx, &sc, sc.Seen)
	default:
		err = fmt.Errorf("cannot start in state %q", sc.State)
	}
	if err == nil && old == nil { // judged again, the content was counted when first seen
		err = add(tx, cScans, 1)
	}
	if err == nil && sc.State != Queued { // enqueue sees a queued scan's dossiers
		err = seeDossiers(tx, sc.Dossiers, sc.Seen)
	}
	if err != nil {
		return fmt.Errorf("record scan %s: %w", sc.SHA256, err)
	}
	return putScan(tx, sc)
}

// Link moves a waiting scan to Queued under the given dossiers and the name
// staff gave it, queueing its uploads in the same transaction.
func (s *Store) Link(sha string, dossiers []string, name, source string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sc, err := getScan(tx, sha)
		if err != nil {
			return err
		}
		if sc.State != Waiting {
			return fmt.Errorf("link scan %s: it is %s, not waiting", sha, sc.State)
		}
		counter := waitingCounter(sc)
		sc.State, sc.Reason, sc.Detail = Queued, "", ""
		sc.Dossiers, sc.Name, sc.Source = dossiers, name, source
		sc.Settled, sc.Place, sc.Gone = false, "", false
		if err := add(tx, counter, -1); err != nil {
			return err
		}
		if err := enqueue(tx, &sc, at); err != nil {
			return err
		}
		return putScan(tx, sc)
	})
}

// Hold updates a waiting scan's reason and where it was last seen (a person
// renamed it, but it still cannot be linked). A scan that was abandoned is
// waiting again: its file is back in the inbox.
func (s *Store) Hold(sha string, r reason.Code, detail, name, source string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sc, err := getScan(tx, sha)
		if err != nil {
			return err
		}
		if sc.State != Waiting {
			return fmt.Errorf("hold scan %s: it is %s, not waiting", sha, sc.State)
		}
		if err := errors.Join(add(tx, waitingCounter(sc), -1), add(tx, cUnlinked, 1)); err != nil {
			return err
		}
		sc.Reason, sc.Detail, sc.Name, sc.Source = r, detail, name, source
		sc.Settled, sc.Place, sc.Gone = false, "", false
		return putScan(tx, sc)
	})
}

// waitingCounter is the counter a waiting scan is counted in.
func waitingCounter(sc Scan) string {
	if sc.Gone {
		return cAbandoned
	}
	return cUnlinked
}

// Abandon records that the file of a waiting scan, last placed at place
// for staff, is no longer in the inbox: it moves from the unlinked count to
// the abandoned one. It reports false, changing nothing, when the scan is
// no longer waiting at place (it was linked or held again meanwhile) or is
// already abandoned. Its spool copy stays: a file put back is offered
// again, and Hold or Link make it waiting or queued as before.
func (s *Store) Abandon(sha, place string) (bool, error) {
	done := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		sc, err := getScan(tx, sha)
		if err != nil {
			return err
		}
		if sc.State != Waiting || !sc.Settled || sc.Place != place || sc.Gone {
			return nil
		}
		if err := errors.Join(add(tx, cUnlinked, -1), add(tx, cAbandoned, 1)); err != nil {
			return err
		}
		sc.Gone, done = true, true
		return putScan(tx, sc)
	})
	if err != nil {
		return false, fmt.Errorf("abandon scan %s: %w", sha, err)
	}
	return done, nil
}

// Settle records that the inbox copy of a scan was removed, or moved to
// place (a path under the inbox that staff see; "" when removed).
func (s *Store) Settle(sha, place string) error {
	return s.update(sha, func(sc *Scan) error {
		sc.Settled, sc.Place = true, place
		return nil
	})
}

func (s *Store) update(sha string, fn func(*Scan) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sc, err := getScan(tx, sha)
		if err != nil {
			return err
		}
		if err := fn(&sc); err != nil {
			return err
		}
		return putScan(tx, sc)
	})
}

func getScan(tx *bolt.Tx, sha string) (Scan, error) {
	v := tx.Bucket(bScans).Get([]byte(sha))
	if v == nil {
		return Scan{}, fmt.Errorf("scan %s: %w", sha, ErrNotFound)
	}
	var sc Scan
	if err := json.Unmarshal(v, &sc); err != nil {
		return Scan{}, fmt.Errorf("scan %s: %w", sha, err)
	}
	return sc, nil
}

func putScan(tx *bolt.Tx, sc Scan) error { return putJSON(tx, bScans, []byte(sc.SHA256), sc) }
