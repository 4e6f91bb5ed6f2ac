// Package store keeps sohoa's durable state in one bbolt file: every scan
// by the SHA-256 of its content, the dossiers they belong to, the upload
// queue, and the counters that metrics read. Every state change is one bbolt
// transaction, and the file is synced on every commit.
//
// A Store is safe for concurrent use.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

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
	RepairedSHA256 string    `json:"repaired_sha256,omitempty"`
	RepairedSize   int64     `json:"repaired_size,omitempty"`
	Seen           time.Time `json:"seen"`              // when it was recorded
	Uploaded       time.Time `json:"uploaded,omitzero"` // when the sink confirmed it
	Settled        bool      `json:"settled,omitempty"` // the inbox copy was removed or moved to a staff folder
	Place          string    `json:"place,omitempty"`   // where staff see it now (errors or waiting folder), slash-separated under the inbox
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

// Job is one upload waiting in the queue.
type Job struct {
	key         []byte
	SHA256      string    `json:"sha256"`
	Dossier     string    `json:"dossier"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	Pages       int       `json:"pages"`
	Repaired    bool      `json:"repaired,omitempty"`
	Content     string    `json:"content"` // SHA-256 of the file delivered: the scan's, or its repaired copy's
	Enqueued    time.Time `json:"enqueued"`
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Status is the HTTP status of the answer that parked the job, 0 if none.
	Status int `json:"status,omitempty"`
	// Parked is when the sink rejected the job for good (see Store.Park);
	// zero while it is queued.
	Parked time.Time `json:"parked,omitzero"`
	// Progress is what a sink of several steps recorded after its first
	// steps succeeded (the file id a first request returned, say), so that a
	// later attempt resumes after them; nil if nothing was recorded.
	Progress map[string]string `json:"progress,omitempty"`
	// Trimmed: the file delivered is the scan's copy without its blank
	// pages (Content is its SHA-256).
	Trimmed bool `json:"trimmed,omitempty"`
}

// Dossier is what the store knows of one dossier code.
type Dossier struct {
	Code      string    `json:"code"`
	FirstSeen time.Time `json:"first_seen"`
	Digitized time.Time `json:"digitized,omitzero"` // first confirmed upload of a scan of it
	Scans     int       `json:"scans"`
}

// ErrLocked means another process (another sohoa) holds the database.
var ErrLocked = errors.New("database is locked by another process (is another sohoa running on this data dir?)")

// ErrNotFound means no such scan or job.
var ErrNotFound = errors.New("not found")

var (
	bScans    = []byte("scans")
	bQueue    = []byte("queue")
	bDossiers = []byte("dossiers")
	bCounters = []byte("counters")
	bParked   = []byte("parked") // jobs the sink rejected, keyed as in bQueue, until requeued
)

// Counter names, kept in the counters bucket.
const (
	cScans       = "scans"
	cDuplicates  = "duplicates"
	cUnlinked    = "unlinked"
	cAbandoned   = "abandoned"
	cUploads     = "uploads"
	cUploadBytes = "upload_bytes"
	cDigitized   = "dossiers_digitized"
	cLastSuccess = "last_upload_success_unix_nano"
	cRetries     = "upload_retries"
	pRejected    = "rejected/"
	pFailures    = "upload_failures/"
)

// Store is the bbolt-backed state.
type Store struct {
	db       *bolt.DB
	received txCache[received]  // the last Received answer, by ward (registry.go)
	unlinked txCache[time.Time] // the last UnlinkedSince answer
}

// Open opens or creates the database at path, waiting at most lockTimeout for
// another process to release it (ErrLocked after that).
func Open(path string, lockTimeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create database dir: %w", err)
	}
	db, err := bolt.Open(path, 0o640, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bScans, bQueue, bDossiers, bCounters, bParked} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise database %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Check runs bbolt's consistency check and returns the first problem found.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
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

// txCache keeps the last answer of a read that is costly over many records,
// with the transaction it was read in and what it was asked (key): a read
// transaction's ID is that of the last commit it sees, so the answer holds
// while the ID is the same. It is safe for concurrent use; callers copy what
// they must not share.
type txCache[V any] struct {
	mu    sync.Mutex
	valid bool
	txid  int
	key   string
	v     V
}

func (c *txCache[V]) get(txid int, key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid || c.txid != txid || c.key != key {
		var zero V
		return zero, false
	}
	return c.v, true
}

func (c *txCache[V]) put(txid int, key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.valid, c.txid, c.key, c.v = true, txid, key, v
}

// Record stores a newly seen scan and, in the same transaction, queues its
// upload (one job per dossier) when its state is Queued and updates the
// counters. Recording a SHA-256 that is already known fails.
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
		if _, err := getScan(tx, batch.SHA256); err == nil {
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
	if _, err := getScan(tx, sc.SHA256); err == nil {
		return fmt.Errorf("record scan %s: already recorded", sc.SHA256)
	}
	var err error
	switch sc.State {
	case Rejected:
		if !sc.Reason.IsRejection() {
			return fmt.Errorf("record scan %s: %q is not a rejection reason", sc.SHA256, sc.Reason)
		}
		err = add(tx, pRejected+string(sc.Reason), 1)
	case Waiting:
		err = add(tx, cUnlinked, 1)
	case Queued:
		err = enqueue(tx, &sc, sc.Seen)
	default:
		err = fmt.Errorf("cannot start in state %q", sc.State)
	}
	if err == nil {
		err = add(tx, cScans, 1)
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

// CountRejected counts a rejection that has no content to record (a FIFO or
// a symlink in the inbox).
func (s *Store) CountRejected(r reason.Code) error {
	if !r.IsRejection() {
		return fmt.Errorf("count rejection: %q is not a rejection reason", r)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return errors.Join(add(tx, cScans, 1), add(tx, pRejected+string(r), 1))
	})
}

// CountDuplicate counts a file whose content was already recorded.
func (s *Store) CountDuplicate() error {
	return s.db.Update(func(tx *bolt.Tx) error { return add(tx, cDuplicates, 1) })
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

// Jobs returns up to limit queued jobs due at or before now, oldest first,
// and the earliest NextAttempt among the jobs not yet due (zero if none).
func (s *Store) Jobs(now time.Time, limit int) (due []Job, next time.Time, err error) {
	return s.Due(now, limit, nil)
}

// Due is Jobs with a filter: skip is called, in queue order, for each job
// that is due while fewer than limit were taken, and the jobs it returns
// true for are left out (the uploader skips dossiers it has in flight). A nil
// skip takes every due job.
func (s *Store) Due(now time.Time, limit int, skip func(Job) bool) (due []Job, next time.Time, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bQueue).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %x: %w", k, err)
			}
			j.key = append([]byte(nil), k...)
			if j.NextAttempt.After(now) {
				if next.IsZero() || j.NextAttempt.Before(next) {
					next = j.NextAttempt
				}
				return nil
			}
			if len(due) < limit && (skip == nil || !skip(j)) {
				due = append(due, j)
			}
			return nil
		})
	})
	return due, next, err
}

// Done records a confirmed upload in one transaction: the job leaves the
// queue, the scan becomes Uploaded once none of its jobs remain, the dossier
// counts as digitized from its first confirmed upload, and the counters move.
func (s *Store) Done(j Job, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bQueue)
		if q.Get(j.key) == nil {
			return fmt.Errorf("job for %s/%s: %w", j.Dossier, j.SHA256, ErrNotFound)
		}
		if err := q.Delete(j.key); err != nil {
			return err
		}
		err := errors.Join(add(tx, cUploads, 1), add(tx, cUploadBytes, j.Size), set(tx, cLastSuccess, at.UnixNano()))
		if err != nil {
			return err
		}
		d := getDossier(tx, j.Dossier, at)
		if d.Digitized.IsZero() {
			d.Digitized = at
			if err := add(tx, cDigitized, 1); err != nil {
				return err
			}
		}
		if err := putJSON(tx, bDossiers, []byte(d.Code), d); err != nil {
			return err
		}
		sc, err := getScan(tx, j.SHA256)
		if err != nil {
			return err
		}
		if sc.Pending--; sc.Pending <= 0 {
			sc.State, sc.Uploaded, sc.Pending = Uploaded, at, 0
		}
		return putScan(tx, sc)
	})
}

// Failed records a failed attempt: the job stays queued with its next
// attempt time, keeping any progress saved for it, and the failure counts
// under kind and as a retry.
func (s *Store) Failed(j Job, kind string, next time.Time, msg string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		cur, err := queued(tx, j)
		if err != nil {
			return err
		}
		cur.Attempts++
		cur.NextAttempt, cur.LastError = next, msg
		if err := errors.Join(add(tx, pFailures+kind, 1), add(tx, cRetries, 1)); err != nil {
			return err
		}
		return putJSON(tx, bQueue, j.key, cur)
	})
}

// SaveProgress records what the sink has done of a job so far (see
// Job.Progress), replacing what was recorded before. The job must be queued.
func (s *Store) SaveProgress(j Job, progress map[string]string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		cur, err := queued(tx, j)
		if err != nil {
			return err
		}
		cur.Progress = progress
		return putJSON(tx, bQueue, j.key, cur)
	})
}

// Park takes a job the sink rejected for good (an HTTP 400, say) out of
// the queue into the parked jobs, with the status and reason, and counts the
// failure under kind. A parked job is never dropped: it waits, visible in
// Stats and Parked, until Requeue puts it back. Its scan stays queued.
func (s *Store) Park(j Job, kind string, status int, reason string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		cur, err := queued(tx, j)
		if err != nil {
			return err
		}
		cur.Attempts++
		cur.Status, cur.LastError, cur.Parked, cur.NextAttempt = status, reason, at, time.Time{}
		if err := add(tx, pFailures+kind, 1); err != nil {
			return err
		}
		if err := tx.Bucket(bQueue).Delete(j.key); err != nil {
			return err
		}
		return putJSON(tx, bParked, j.key, cur)
	})
}

// Parked returns the parked jobs, oldest queued first.
func (s *Store) Parked() ([]Job, error) {
	var jobs []Job
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bParked).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("parked job %x: %w", k, err)
			}
			j.key = append([]byte(nil), k...)
			jobs = append(jobs, j)
			return nil
		})
	})
	return jobs, err
}

// Requeue puts parked jobs back in the queue in one transaction, due at
// once, with their attempts, error and status cleared. match selects them
// (nil: every parked job; see BySHA256 and ByDossier). With restart their
// progress is forgotten too, so that a sink of several steps starts again at
// the first; without it, it resumes after the steps that succeeded. It
// returns the jobs requeued.
func (s *Store) Requeue(match func(Job) bool, restart bool) ([]Job, error) {
	var moved []Job
	err := s.db.Update(func(tx *bolt.Tx) error {
		p := tx.Bucket(bParked)
		var keys [][]byte
		var jobs []Job
		err := p.ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("parked job %x: %w", k, err)
			}
			if match == nil || match(j) {
				keys = append(keys, append([]byte(nil), k...))
				jobs = append(jobs, j)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, j := range jobs {
			j.Attempts, j.LastError, j.Status = 0, "", 0
			j.Parked, j.NextAttempt = time.Time{}, time.Time{}
			if restart {
				j.Progress = nil
			}
			if err := p.Delete(keys[i]); err != nil {
				return err
			}
			if err := putJSON(tx, bQueue, keys[i], j); err != nil {
				return err
			}
			j.key = keys[i]
			moved = append(moved, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("requeue parked uploads: %w", err)
	}
	return moved, nil
}

// BySHA256 matches the jobs of a scan, by its SHA-256 or the hash of the
// content delivered for it; a prefix of at least 8 hex digits is enough.
func BySHA256(sha string) func(Job) bool {
	sha = strings.ToLower(sha)
	return func(j Job) bool {
		return len(sha) >= 8 && (strings.HasPrefix(j.SHA256, sha) || strings.HasPrefix(j.Content, sha))
	}
}

// ByDossier matches the jobs of one dossier code.
func ByDossier(code string) func(Job) bool {
	return func(j Job) bool { return strings.EqualFold(j.Dossier, code) }
}

// queued reads the stored version of a queued job.
func queued(tx *bolt.Tx, j Job) (Job, error) {
	v := tx.Bucket(bQueue).Get(j.key)
	if v == nil {
		return Job{}, fmt.Errorf("job for %s/%s: %w", j.Dossier, j.SHA256, ErrNotFound)
	}
	var cur Job
	if err := json.Unmarshal(v, &cur); err != nil {
		return Job{}, fmt.Errorf("job for %s/%s: %w", j.Dossier, j.SHA256, err)
	}
	return cur, nil
}

// Stats is a consistent snapshot of the counters and the queue, for metrics.
type Stats struct {
	Scans             uint64
	Duplicates        uint64
	Unlinked          uint64
	Abandoned         uint64 // waiting scans whose file staff removed from the inbox
	Rejected          map[reason.Code]uint64
	QueueLength       int
	QueueBytes        int64
	QueueOldest       time.Time // zero when the queue is empty
	Uploads           uint64
	UploadBytes       uint64
	UploadFailures    map[string]uint64
	UploadRetries     uint64 // failed attempts left queued for another try
	Parked            int    // uploads the sink rejected, waiting for a person to requeue them
	ParkedBytes       int64
	DossiersDigitized uint64
	LastUploadSuccess time.Time // zero if never
}

// Stats reads the counters and the queue in one read transaction.
func (s *Store) Stats() (Stats, error) {
	st := Stats{Rejected: map[reason.Code]uint64{}, UploadFailures: map[string]uint64{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bCounters)
		st.Scans = uint64(get(c, cScans))
		st.Duplicates = uint64(get(c, cDuplicates))
		st.Unlinked = uint64(max(get(c, cUnlinked), 0))
		st.Abandoned = uint64(max(get(c, cAbandoned), 0))
		st.Uploads = uint64(get(c, cUploads))
		st.UploadBytes = uint64(get(c, cUploadBytes))
		st.UploadRetries = uint64(get(c, cRetries))
		st.DossiersDigitized = uint64(get(c, cDigitized))
		if ns := get(c, cLastSuccess); ns != 0 {
			st.LastUploadSuccess = time.Unix(0, ns)
		}
		err := c.ForEach(func(k, v []byte) error {
			switch name := string(k); {
			case len(name) > len(pRejected) && name[:len(pRejected)] == pRejected:
				st.Rejected[reason.Code(name[len(pRejected):])] = uint64(decode(v))
			case len(name) > len(pFailures) && name[:len(pFailures)] == pFailures:
				st.UploadFailures[name[len(pFailures):]] = uint64(decode(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bParked).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("parked job %x: %w", k, err)
			}
			st.Parked++
			st.ParkedBytes += j.Size
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bQueue).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %x: %w", k, err)
			}
			st.QueueLength++
			st.QueueBytes += j.Size
			if st.QueueOldest.IsZero() || j.Enqueued.Before(st.QueueOldest) {
				st.QueueOldest = j.Enqueued
			}
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("read stats: %w", err)
	}
	return st, nil
}

// Dossier returns what is known of a dossier code, or ErrNotFound.
func (s *Store) Dossier(code string) (Dossier, error) {
	var d Dossier
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bDossiers).Get([]byte(code))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &d)
	})
	return d, err
}

// enqueue queues one job per dossier of sc and counts them in sc.Pending.
func enqueue(tx *bolt.Tx, sc *Scan, at time.Time) error {
	if len(sc.Dossiers) == 0 {
		return fmt.Errorf("queue scan %s: no dossier", sc.SHA256)
	}
	q := tx.Bucket(bQueue)
	for _, code := range sc.Dossiers {
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		// Keys sort by when they were queued: the sequence is monotonic.
		key := binary.BigEndian.AppendUint64(nil, seq)
		key = append(key, sc.SHA256...)
		j := Job{SHA256: sc.SHA256, Dossier: code, Name: sc.Name, Size: sc.Size, Pages: sc.Pages,
			Repaired: sc.Repaired, Content: sc.SHA256, Enqueued: at}
		if sc.Repaired {
			j.Content, j.Size = sc.RepairedSHA256, sc.RepairedSize
		}
		if sc.Trimmed {
			j.Trimmed, j.Content, j.Size, j.Pages = true, sc.TrimmedSHA256, sc.TrimmedSize, sc.Pages-sc.BlankDropped-sc.ReceiptsDropped
		}
		if err := putJSON(tx, bQueue, key, j); err != nil {
			return err
		}
		sc.Pending++
		d := getDossier(tx, code, at)
		d.Scans++
		if err := putJSON(tx, bDossiers, []byte(code), d); err != nil {
			return err
		}
	}
	return nil
}

func getDossier(tx *bolt.Tx, code string, seen time.Time) Dossier {
	d := Dossier{Code: code, FirstSeen: seen}
	if v := tx.Bucket(bDossiers).Get([]byte(code)); v != nil {
		_ = json.Unmarshal(v, &d)
	}
	return d
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

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, b)
}

func decode(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func get(b *bolt.Bucket, name string) int64 { return decode(b.Get([]byte(name))) }

func set(tx *bolt.Tx, name string, v int64) error {
	if err := tx.Bucket(bCounters).Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(v))); err != nil {
		return fmt.Errorf("counter %s: %w", name, err)
	}
	return nil
}

func add(tx *bolt.Tx, name string, delta int64) error {
	return set(tx, name, get(tx.Bucket(bCounters), name)+delta)
}
