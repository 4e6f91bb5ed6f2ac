package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sohoa/sohoa/ingest/reason"
)

// The unit of upload and of the digitized count is the pair (dossier,
// content): a scan record is one content, by its SHA-256, and its Dossiers
// are the dossiers it was linked to, each with its own upload job and its
// own mark once uploaded (Scan.UploadedTo). The same content saved again
// for another dossier is that dossier's too; for the same dossier it is a
// duplicate.

// AddDossier links a queued, uploaded or split scan's content to one more
// dossier, in one transaction: it queues one upload of the content to code
// under name (asSaved: the file as saved, its repaired or trimmed copy
// being gone; see enqueuePair), and the scan is queued again until it is
// confirmed. source is where the content was seen now. When the pair is
// already known the file is a duplicate: nothing changes (added false).
func (s *Store) AddDossier(sha, code, name, source string, asSaved bool, at time.Time) (added bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		sc, err := getScan(tx, sha)
		if err != nil {
			return err
		}
		if sc.State != Queued && sc.State != Uploaded {
			return fmt.Errorf("add dossier %s to scan %s: it is %s", code, sha, sc.State)
		}
		if slices.Contains(sc.Dossiers, code) {
			return nil // the same pair: a duplicate, which the caller counts
		}
		added = true
		sc.Dossiers = append(sc.Dossiers, code)
		sc.State, sc.Source = Queued, source
		if err := enqueuePair(tx, &sc, code, name, asSaved, at); err != nil {
			return err
		}
		return putScan(tx, sc)
	})
	if err != nil {
		return false, fmt.Errorf("link scan %s to %s: %w", sha, code, err)
	}
	return added, nil
}

// SeeDossiers counts a file whose content was already recorded as a
// duplicate, and records the dossier codes its name or folders gave, which
// counts them as received (see Received): a rejected content saved again
// under another code, say.
func (s *Store) SeeDossiers(codes []string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := add(tx, cDuplicates, 1); err != nil {
			return err
		}
		return seeDossiers(tx, codes, at)
	})
}

// MaxParserTries is how many checks of one content the parser may fail to
// survive (reason.ParserLimit: killed for its memory, CPU or time) before
// that verdict is final: a loaded PC can time out a good file, and a
// born-digital file cannot be scanned again into other bytes.
const MaxParserTries = 3

var bParserTries = []byte("parser_tries") // content SHA-256 -> checks the parser did not survive

// ParserDied counts one more check of a content that the parser did not
// survive and returns how many there were.
func (s *Store) ParserDied(sha string) (int, error) {
	var n uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bParserTries)
		if v := b.Get([]byte(sha)); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		return b.Put([]byte(sha), binary.BigEndian.AppendUint64(nil, n))
	})
	if err != nil {
		return 0, fmt.Errorf("count parser deaths of %s: %w", sha, err)
	}
	return int(n), nil
}

// Rejudged reports whether a recorded verdict may change when the same
// content is taken again, so that Record replaces it: a rejection that
// depends on the settings in force (too large, too low a resolution),
// and a parser death until MaxParserTries checks ended so.
func Rejudged(sc Scan) bool {
	if sc.State != Rejected {
		return false
	}
	switch sc.Reason {
	case reason.TooLarge, reason.LowDPI:
		return true
	case reason.ParserLimit:
		return sc.ParserTries < MaxParserTries
	}
	return false
}

// Layouts of the database: 1 kept one upload mark per scan; 2 keeps one per
// pair (dossier, content) and a job's idempotency key per pair.
const layout = 2

var (
	bMeta   = []byte("meta")
	kLayout = []byte("layout")
)

// migrate brings a database of an older layout to the current one, in the
// transaction that opens it; fresh says it was just created. From layout
// 1: each dossier of a queued or uploaded scan that has no job left in the
// queue or the parked jobs was uploaded, and is marked so (when: the
// scan's upload time, else the dossier's first upload, else when the scan
// was seen); the jobs still queued or parked keep their content's SHA-256
// as idempotency key.
func migrate(tx *bolt.Tx, fresh bool) error {
	meta, err := tx.CreateBucketIfNotExists(bMeta)
	if err != nil {
		return err
	}
	if v := meta.Get(kLayout); fresh || len(v) == 8 && binary.BigEndian.Uint64(v) >= layout {
		return meta.Put(kLayout, binary.BigEndian.AppendUint64(nil, layout))
	}
	pending := map[string]bool{} // sha + "/" + dossier
	for _, b := range [][]byte{bQueue, bParked} {
		bucket := tx.Bucket(b)
		var keys [][]byte
		var jobs []Job
		err := bucket.ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %x: %w", k, err)
			}
			pending[j.SHA256+"/"+j.Dossier] = true
			j.ContentKey = true
			keys, jobs = append(keys, append([]byte(nil), k...)), append(jobs, j)
			return nil
		})
		if err != nil {
			return err
		}
		for i, j := range jobs {
			if err := putJSON(tx, b, keys[i], j); err != nil {
				return err
			}
		}
	}
	var scans []Scan
	err = tx.Bucket(bScans).ForEach(func(k, v []byte) error {
		var sc Scan
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("scan %s: %w", k, err)
		}
		if (sc.State == Queued || sc.State == Uploaded) && sc.UploadedTo == nil {
			scans = append(scans, sc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sc := range scans {
		for _, code := range sc.Dossiers {
			if pending[sc.SHA256+"/"+code] {
				continue
			}
			at := sc.Uploaded
			if d := getDossier(tx, code, sc.Seen); at.IsZero() {
				at = d.Digitized
			}
			if at.IsZero() {
				at = sc.Seen
			}
			if sc.UploadedTo == nil {
				sc.UploadedTo = map[string]time.Time{}
			}
			sc.UploadedTo[code] = at
		}
		if sc.UploadedTo != nil {
			if err := putScan(tx, sc); err != nil {
				return err
			}
		}
	}
	return meta.Put(kLayout, binary.BigEndian.AppendUint64(nil, layout))
}

// CountSpoolRecovered counts spool files found at start with no record and
// given back to the inbox to be taken again.
func (s *Store) CountSpoolRecovered(n int) error {
	return s.db.Update(func(tx *bolt.Tx) error { return add(tx, cSpoolRecovered, int64(n)) })
}
