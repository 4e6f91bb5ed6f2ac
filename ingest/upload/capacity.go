package upload

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/sohoa/sohoa/ingest/store"
)

// ErrQueueFull means the upload queue holds as much as its cap allows: a
// new scan waits in the inbox, where it is safe, until uploads make room.
var ErrQueueFull = errors.New("upload queue is full")

// QueueCap bounds the disk the upload queue takes while the sink is down:
// Admit refuses a new file once the queued and parked uploads, the files
// admitted and not yet released, and the file would pass Max bytes. It logs
// when intake stops and when it resumes. A QueueCap is safe for concurrent
// use: files taken at once cannot together pass the cap.
type QueueCap struct {
	Stats  func() (store.Stats, error) // the store's Stats
	Max    int64                       // bytes; 0 or less: no cap
	Logger *slog.Logger                // nil: discard

	mu      sync.Mutex
	full    bool
	pending int64 // bytes admitted and not released: being taken in now
}

// Admit returns a release function when a file of size bytes may be taken
// in now; call it once the file is recorded (or given up). It returns an
// error wrapping ErrQueueFull when the file must wait, or the store's error.
func (c *QueueCap) Admit(size int64) (release func(), err error) {
	if c.Max <= 0 {
		return func() {}, nil
	}
	// Holding the lock across the read keeps two files from both seeing
	// the room that only one of them fits in.
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.Stats()
	if err != nil {
		return nil, fmt.Errorf("check upload queue size: %w", err)
	}
	used := st.QueueBytes + st.ParkedBytes + c.pending
	full := used+size > c.Max && used > 0 // an empty queue takes any file
	changed := full != c.full
	c.full = full
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case full && changed:
		log.Warn("upload queue is full; new scans wait in the inbox until uploads make room",
			"queue_bytes", used, "max_bytes", c.Max, "queued", st.QueueLength, "parked", st.Parked)
	case !full && changed:
		log.Info("upload queue has room again; taking new scans", "queue_bytes", used, "max_bytes", c.Max)
	}
	if full {
		return nil, fmt.Errorf("%w: %d of %d bytes used, a %d-byte scan waits", ErrQueueFull, used, c.Max, size)
	}
	c.pending += size
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.pending -= size
			c.mu.Unlock()
		})
	}, nil
}
