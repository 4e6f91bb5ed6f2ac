package store

import bolt "go.etcd.io/bbolt"

// Version returns a number that changes with every committed state change
// (the ID of the last committed transaction), so that a reader showing the
// state — the counter's page — reads it again only when it moved.
func (s *Store) Version() (int, error) {
	var id int
	err := s.db.View(func(tx *bolt.Tx) error {
		id = tx.ID()
		return nil
	})
	return id, err
}
