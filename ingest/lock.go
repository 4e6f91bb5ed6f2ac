package ingest

import "sync"

// contentLocks serialises work on one content: two files with the same
// bytes taken at once must end as one record and one duplicate, not as two
// records racing for the same SHA-256.
type contentLocks struct {
	mu    sync.Mutex
	locks map[string]*contentLock
}

type contentLock struct {
	sync.Mutex
	users int // holders and waiters; the entry goes when it drops to zero
}

// lock locks sha and returns its unlock function.
func (c *contentLocks) lock(sha string) (unlock func()) {
	c.mu.Lock()
	if c.locks == nil {
		c.locks = make(map[string]*contentLock)
	}
	l := c.locks[sha]
	if l == nil {
		l = &contentLock{}
		c.locks[sha] = l
	}
	l.users++
	c.mu.Unlock()

	l.Lock()
	return func() {
		l.Unlock()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.locks, sha)
		}
		c.mu.Unlock()
	}
}
