package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

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
	// ContentKey marks a job queued before idempotency keys were per pair
	// (dossier, content): its key stays the content's SHA-256, as its
	// first attempts sent it (see Store.Open's migration).
	ContentKey bool `json:"content_key,omitempty"`
	// Signed is the SHA-256 of the signed copy of the file made for
	// delivery (ingest/sign), recorded before its first delivery so that
	// every attempt delivers that same copy; "" when none was made. The
	// job's identity stays its dossier and Content.
	Signed string `json:"signed,omitempty"`
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
// queue, the pair (dossier, content) is marked uploaded (Scan.UploadedTo),
// the scan becomes Uploaded once none of its jobs remain, the dossier counts
// as digitized from its first confirmed upload, and the counters move.
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
		if sc.UploadedTo == nil {
			sc.UploadedTo = map[string]time.Time{}
		}
		if _, ok := sc.UploadedTo[j.Dossier]; !ok {
			sc.UploadedTo[j.Dossier] = at
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

// SetSigned records sha as the job's Signed copy. The job must be queued.
func (s *Store) SetSigned(j Job, sha string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		cur, err := queued(tx, j)
		if err != nil {
			return err
		}
		cur.Signed = sha
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

// enqueue queues one job per dossier of sc and counts them in sc.Pending.
func enqueue(tx *bolt.Tx, sc *Scan, at time.Time) error {
	if len(sc.Dossiers) == 0 {
		return fmt.Errorf("queue scan %s: no dossier", sc.SHA256)
	}
	for _, code := range sc.Dossiers {
		if err := enqueuePair(tx, sc, code, sc.Name, false, at); err != nil {
			return err
		}
	}
	return nil
}

// enqueuePair queues the upload of sc's content to one dossier under name,
// counts it in sc.Pending and the dossier's scans. asSaved delivers the
// file as it was saved, not its repaired or trimmed copy.
func enqueuePair(tx *bolt.Tx, sc *Scan, code, name string, asSaved bool, at time.Time) error {
	q := tx.Bucket(bQueue)
	seq, err := q.NextSequence()
	if err != nil {
		return err
	}
	// Keys sort by when they were queued: the sequence is monotonic.
	key := binary.BigEndian.AppendUint64(nil, seq)
	key = append(key, sc.SHA256...)
	j := Job{SHA256: sc.SHA256, Dossier: code, Name: name, Size: sc.Size, Pages: sc.Pages,
		Content: sc.SHA256, Enqueued: at}
	switch {
	case asSaved:
	case sc.Trimmed:
		j.Repaired, j.Trimmed, j.Content, j.Size, j.Pages = sc.Repaired, true, sc.TrimmedSHA256, sc.TrimmedSize, sc.Pages-sc.BlankDropped-sc.ReceiptsDropped
	case sc.Repaired:
		j.Repaired, j.Content, j.Size = true, sc.RepairedSHA256, sc.RepairedSize
	}
	if err := putJSON(tx, bQueue, key, j); err != nil {
		return err
	}
	sc.Pending++
	d := getDossier(tx, code, at)
	d.Scans++
	return putJSON(tx, bDossiers, []byte(code), d)
}

// seeDossiers records codes seen on a scan that queues nothing for them (a
// rejected or waiting one): a dossier seen on any scan counts as received,
// from its first sighting; only an upload makes it digitized.
func seeDossiers(tx *bolt.Tx, codes []string, at time.Time) error {
	ds := tx.Bucket(bDossiers)
	for _, code := range codes {
		if ds.Get([]byte(code)) != nil {
			continue
		}
		if err := putJSON(tx, bDossiers, []byte(code), Dossier{Code: code, FirstSeen: at}); err != nil {
			return err
		}
	}
	return nil
}
