package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sohoa/sohoa/ingest/reason"
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
	// cSpoolRecovered counts spool files with no record given back to the inbox at start.
	cSpoolRecovered = "spool_recovered"
	pRejected       = "rejected/"
	pFailures       = "upload_failures/"
)

// CountRejected counts a rejection that has no content to record (a FIFO or
// a symlink in the inbox, a file too large to read), and records the
// dossier codes its name or folders gave, which counts them as received
// (see Received).
func (s *Store) CountRejected(r reason.Code, codes []string, at time.Time) error {
	if !r.IsRejection() {
		return fmt.Errorf("count rejection: %q is not a rejection reason", r)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return errors.Join(add(tx, cScans, 1), add(tx, pRejected+string(r), 1), seeDossiers(tx, codes, at))
	})
}

// CountDuplicate counts a file whose content was already recorded.
func (s *Store) CountDuplicate() error {
	return s.db.Update(func(tx *bolt.Tx) error { return add(tx, cDuplicates, 1) })
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
	SpoolRecovered    uint64    // spool files with no record given back to the inbox at start
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
		st.SpoolRecovered = uint64(get(c, cSpoolRecovered))
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
