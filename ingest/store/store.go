// Package store keeps sohoa's durable state in one bbolt file: every scan
// by the SHA-256 of its content, the dossiers they belong to, the upload
// queue, and the counters that metrics read. Every state change is one bbolt
// transaction, and the file is synced on every commit.
//
// A Store is safe for concurrent use.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

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
		fresh := tx.Bucket(bScans) == nil
		for _, b := range [][]byte{bScans, bQueue, bDossiers, bCounters, bParked, bParserTries} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return migrate(tx, fresh)
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

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, b)
}
